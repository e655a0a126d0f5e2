"""The shard folder format: file names, `shards.json`, the element structure, and whether a spec fits the shards.

A folder written by `mmkeras convert` holds `<split>-0000k-of-0000N.tfrecord`
files, `preprocessor/` (the adapted preprocessor) and `shards.json` (format
version, mode, the spec, the features with dtype and shape, the element
`structure` and per-split counts and files). Each pipeline element is
stored flat, one feature per tensor; `structure` is the element with feature
keys at its leaves, so reading restores exactly what was written.
"""

import json
import os

from mmkeras.errors import DataError

FORMAT_VERSION = 1
INDEX_FILE = "shards.json"
PREPROCESSOR_DIR = "preprocessor"
MODES = ("preprocessed", "raw")
SPLITS = ("train", "validation", "test")

# Input options that do not change the stored tensors (only the model or training-time steps).
MODEL_ONLY_KEYS = ("encoder", "augment")
# Output options that do not change the stored targets.
TRAINING_ONLY_KEYS = ("loss_weight", "threshold")


def shard_file_name(split, index, count):
    """File name of shard `index` (0-based) of `count` for a split.

    Example:

    >>> shard_file_name("train", 0, 3)
    'train-00000-of-00003.tfrecord'
    """
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def is_shard_folder(path):
    """True when `path` is a folder written by `convert_to_shards` (it holds `shards.json`).

    Example:

    >>> is_shard_folder(data_dir), is_shard_folder(None)
    (False, False)
    """
    return bool(path) and os.path.isfile(os.path.join(path, INDEX_FILE))


def read_index(folder):
    """The `shards.json` of a shard folder, checked for its format version.

    Raises:
        FileNotFoundError: `folder` holds no `shards.json`.
        DataError: it was written in another format version.

    Example:

    >>> read_index(data_dir)
    Traceback (most recent call last):
    ...
    FileNotFoundError: ... is not a shard folder: shards.json is missing (write one with ...)
    """
    path = os.path.join(folder, INDEX_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{folder} is not a shard folder: {INDEX_FILE} is missing "
                                "(write one with `mmkeras convert SPEC --out DIR`)")
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    if index.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path}: format_version {index.get('format_version')!r} is not supported "
                        f"(this mmkeras reads version {FORMAT_VERSION}); convert the data again")
    return index


# -- the element structure <-> flat {key: tensor} ---------------------------------
def element_template(element_spec, prefix=""):
    """A JSON-ready copy of a dataset's element structure whose leaves are feature keys.

    Dicts stay dicts, tuples become lists, each leaf its path joined by "/".

    Example:

    >>> spec_ = {"a": tf.TensorSpec([None]), "b": (tf.TensorSpec([None]), tf.TensorSpec([None]))}
    >>> element_template(spec_)
    {'a': 'a', 'b': ['b/0', 'b/1']}
    """
    if isinstance(element_spec, dict):
        return {k: element_template(v, f"{prefix}{k}/") for k, v in element_spec.items()}
    if isinstance(element_spec, (tuple, list)):
        return [element_template(v, f"{prefix}{i}/") for i, v in enumerate(element_spec)]
    return prefix.rstrip("/") or "value"


def flatten_element(template, element):
    """Pairs (key, value) of an element laid out like `template` (see `element_template`).

    Example:

    >>> list(flatten_element({"a": "a", "b": ["b/0", "b/1"]}, {"a": 1, "b": (2, 3)}))
    [('a', 1), ('b/0', 2), ('b/1', 3)]
    """
    if isinstance(template, dict):
        for k, sub in template.items():
            yield from flatten_element(sub, element[k])
    elif isinstance(template, list):
        for sub, value in zip(template, element):
            yield from flatten_element(sub, value)
    else:
        yield template, element


def restore_element(template, flat):
    """The element laid out like `template` from a flat {key: value}: the inverse of `flatten_element`.

    Example:

    >>> restore_element({"a": "a", "b": ["b/0", "b/1"]}, {"a": 1, "b/0": 2, "b/1": 3})
    {'a': 1, 'b': (2, 3)}
    """
    if isinstance(template, dict):
        return {k: restore_element(v, flat) for k, v in template.items()}
    if isinstance(template, list):
        return tuple(restore_element(v, flat) for v in template)
    return flat[template]


def feature_info(template, element_spec):
    """{key: {"dtype", "shape"}} of every tensor of a batched element (the batch dimension left out).

    Example:

    >>> feature_info({"a": "a"}, {"a": tf.TensorSpec([None, 3], tf.float32)})
    {'a': {'dtype': 'float32', 'shape': [3]}}
    """
    return {key: {"dtype": spec.dtype.name, "shape": [int(d) for d in spec.shape[1:]]}
            for key, spec in flatten_element(template, element_spec)}


# -- does a spec fit the shards? ----------------------------------------------------
def _differences(section, ours, theirs, skip):
    if list(ours) != list(theirs):
        return [f"{section}: the spec has {list(ours)}, the shards were written for {list(theirs)}"]
    problems = []
    for name, options in ours.items():
        for key in sorted(set(options) | set(theirs[name])):
            if key in skip or options.get(key) == theirs[name].get(key):
                continue
            problems.append(f"{section}.{name}.{key}: {options.get(key)!r} in the spec, "
                            f"{theirs[name].get(key)!r} in the shards")
    return problems


def check_shard_spec(spec, folder, index=None):
    """Raises DataError unless the spec's inputs and outputs are those the shards were written with.

    Encoders, fusion and training options may differ; anything that changes
    the stored tensors (columns, sizes, features, vocabularies...) may not.

    Args:
        spec: a loaded Spec.
        folder: a shard folder.
        index: its `shards.json` when already read.

    Returns:
        The folder's `shards.json` (as `read_index` returns it).

    Example:

    >>> folder = os.path.join(tmp_dir, "shards")
    >>> from mmkeras.data.sources.shards.write import convert_to_shards
    >>> _ = convert_to_shards(spec, folder, 1, progress=False)
    >>> check_shard_spec(spec, folder)["mode"]
    'preprocessed'
    """
    index = index or read_index(folder)
    ours, theirs = spec.to_dict(), index["spec"]
    problems = _differences("inputs", ours["inputs"], theirs["inputs"], MODEL_ONLY_KEYS)
    problems += _differences("outputs", ours.get("outputs", {}), theirs.get("outputs", {}), TRAINING_ONLY_KEYS)
    if problems:
        raise DataError(f"{spec.source or 'spec'}: data.path {folder} holds shards written for another spec: "
                        + "; ".join(problems[:5]) + ". Convert again with `mmkeras convert` for this spec.")
    return index
