"""TFRecord shards: a spec's splits written once as model-ready examples, read back in parallel.

`convert_to_shards` runs the ordinary evaluation pipeline (`make_dataset`,
no shuffling, no augmentation) over every split and writes what it yields,
one `tf.train.Example` per example, into `DIR/<split>-0000k-of-0000N.tfrecord`
(each shard a contiguous block of rows), next to `DIR/preprocessor/` (the
adapted preprocessor) and `DIR/shards.json` (format version, the spec, the
features with dtype and shape, per-split counts and files).

Every tensor is stored as one bytes feature: numbers as their raw
little-endian bytes (read back exactly with `tf.io.decode_raw`), strings as
they are. Whatever keys `make_dataset` yields are written, so the format
follows the model's inputs without knowing them.

`mmkeras.data.sources.shards.read.shard_dataset` reads them back.
"""

import json
import os
import sys
import time

import numpy as np
import tensorflow as tf

from mmkeras.errors import DataError

FORMAT_VERSION = 1
INDEX_FILE = "shards.json"
PREPROCESSOR_DIR = "preprocessor"
MODES = ("preprocessed", "raw")
SPLITS = ("train", "validation", "test")


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

    >>> is_shard_folder("shards/demo")
    True
    """
    return bool(path) and os.path.isfile(os.path.join(path, INDEX_FILE))


def read_index(folder):
    """The `shards.json` of a shard folder, checked for its format version.

    Example:

    >>> read_index("shards/demo")["splits"]["train"]["count"]
    672
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
def _template(element_spec, prefix=""):
    """A JSON-ready copy of a dataset's element structure whose leaves are feature keys."""
    if isinstance(element_spec, dict):
        return {k: _template(v, f"{prefix}{k}/") for k, v in element_spec.items()}
    if isinstance(element_spec, (tuple, list)):
        return [_template(v, f"{prefix}{i}/") for i, v in enumerate(element_spec)]
    return prefix.rstrip("/") or "value"


def _leaves(template, element):
    """Pairs (key, value) of an element laid out like `template`."""
    if isinstance(template, dict):
        for k, sub in template.items():
            yield from _leaves(sub, element[k])
    elif isinstance(template, list):
        for sub, value in zip(template, element):
            yield from _leaves(sub, value)
    else:
        yield template, element


def _restore(template, flat):
    if isinstance(template, dict):
        return {k: _restore(v, flat) for k, v in template.items()}
    if isinstance(template, list):
        return tuple(_restore(v, flat) for v in template)
    return flat[template]


def _feature_info(template, element_spec):
    info = {}
    for key, spec in _leaves(template, element_spec):
        info[key] = {"dtype": spec.dtype.name, "shape": [int(d) for d in spec.shape[1:]]}
    return info


# -- writing -------------------------------------------------------------------------
def _example(flat, i):
    """One `tf.train.Example` (serialized) from row `i` of a batch {key: numpy array}."""
    features = {}
    for key, values in flat.items():
        value = values[i]
        if values.dtype == object:  # strings; never through a numpy "S" array, which drops trailing NULs
            items = [value] if isinstance(value, (bytes, str)) else np.asarray(value, dtype=object).ravel()
            data = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in items]
        else:
            value = np.asarray(value)
            data = [np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()]
        features[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=data))
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


class _Progress:
    """A one-line progress bar on stderr (redrawn in place on a terminal, else printed once)."""

    def __init__(self, label, total, stream=None, enabled=True):
        self.label, self.total, self.stream, self.enabled = label, max(total, 1), stream or sys.stderr, enabled
        self.start = self.last = time.perf_counter()
        self.tty = getattr(self.stream, "isatty", lambda: False)()

    def _line(self, done):
        width = 30
        filled = int(width * done / self.total)
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        return (f"  {self.label:<10} [{'=' * filled}{'.' * (width - filled)}] {done}/{self.total} examples, "
                f"{rate:.0f}/s")

    def update(self, done):
        now = time.perf_counter()
        if self.enabled and self.tty and now - self.last > 0.1:
            self.last = now
            self.stream.write("\r" + self._line(done))
            self.stream.flush()

    def close(self, done, note=""):
        if self.enabled:
            self.stream.write(("\r" if self.tty else "") + self._line(done)
                              + f" in {time.perf_counter() - self.start:.1f} s{note}\n")
            self.stream.flush()


def _write_split(ds, folder, split, shards, total, progress):
    """Writes the batches of `ds` into `shards` files of contiguous rows; returns (files, count)."""
    bounds = [total * k // shards for k in range(shards + 1)]
    files = [shard_file_name(split, k, shards) for k in range(shards)]
    bar = _Progress(split, total, enabled=progress)
    template = _template(ds.element_spec)
    k, row = 0, 0
    writer = tf.io.TFRecordWriter(os.path.join(folder, files[0]))
    try:
        for batch in ds.as_numpy_iterator():
            flat = dict(_leaves(template, batch))
            for i in range(len(next(iter(flat.values())))):
                while k + 1 < shards and row >= bounds[k + 1]:
                    writer.close()
                    k += 1
                    writer = tf.io.TFRecordWriter(os.path.join(folder, files[k]))
                writer.write(_example(flat, i))
                row += 1
            bar.update(row)
    finally:
        writer.close()
    for j in range(k + 1, shards):  # splits with fewer rows than shards: empty files keep the naming
        tf.io.TFRecordWriter(os.path.join(folder, files[j])).close()
    bar.close(row, f" -> {shards} shard(s)")
    if row != total:
        raise DataError(f"The {split} split has {total} rows but the pipeline yielded {row} examples")
    return files, row


def _raw_dataset(spec, pre, df, table, batch_size):
    """Batches of `(raw inputs with file bytes and presence, decode contexts, targets)`.

    The same first stage as `make_dataset` (`read`): what is left to do when
    the shards are read is `decode_example` and `transform_batch`.
    """
    from mmkeras.data.presence import PRESENCE, presence_vector
    from mmkeras.data.sources.table import data_root
    from mmkeras.data.targets import sample_weights

    raw = pre.raw_columns(df, root=data_root(spec), table=table)
    contexts = {n: pre.contexts(df, n, raw[n], table) for n, f in pre.features.items() if f.is_file}
    targets = {}
    if all(o.column in df.columns for o in spec.outputs.values()):
        targets = {n: t.encode(df[spec.outputs[n].column], table) for n, t in pre.targets.items()}
        weights = sample_weights(spec, pre.targets, targets)
        if weights:
            targets = (targets, weights)
    files = [n for n, f in pre.features.items() if f.is_file]

    def read(raw, contexts, targets):
        raw = dict(raw)
        raw[PRESENCE] = presence_vector(pre.features, raw)
        for name in files:
            raw[name] = pre.features[name].read(raw[name])
        return raw, contexts, targets

    ds = tf.data.Dataset.from_tensor_slices((raw, contexts, targets))
    return ds.map(read, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def convert_to_shards(spec, out_dir, shards=8, *, overwrite=False, mode="preprocessed", data=None, root=None,
                      batch_size=256, progress=True):
    """Writes a spec's splits as sharded TFRecord files of model-ready examples.

    The preprocessor is adapted on the train split (as `mmkeras train`
    does) and saved in `out_dir/preprocessor/`; each split then goes through
    `make_dataset` without shuffling or augmentation, and every example
    (inputs and encoded targets, whatever keys the pipeline yields) is
    written into `out_dir/<split>-0000k-of-0000N.tfrecord`. `shards.json`
    records the spec, the features (dtype, shape), counts and files. The
    folder is written under a temporary name and renamed when complete.

    Args:
        spec: a Spec, spec file or dict (its table is read; its splits are kept).
        out_dir: the folder to create.
        shards: files per split (rows are cut into this many contiguous blocks).
        overwrite: replace an existing `out_dir`.
        mode: "preprocessed": model-ready tensors (fastest to read; training
            from them runs no augmentation). "raw": file bytes, strings and
            numbers (smaller; decoding, random crops and augmentation run
            when the shards are read, as in `make_dataset`).
        data, root: another table / file root than the spec's.
        batch_size: batch size of the conversion pipeline (not of training).
        progress: draw a progress line per split on stderr.

    Returns:
        The parsed `shards.json` of the written folder.

    Example:

    >>> index = convert_to_shards("data_specs/demo.yaml", "shards/demo", shards=4)
    >>> index["splits"]["train"]["count"]
    672
    """
    from mmkeras.data.pipeline import make_dataset
    from mmkeras.data.preprocessor import Preprocessor
    from mmkeras.data.sources.table import data_root, load_splits
    from mmkeras.export.saved_model import _write_atomically
    from mmkeras.specs import load_spec

    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not supported; allowed: {', '.join(MODES)}")
    if not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards: {shards!r} is not a positive integer")
    spec = load_spec(spec)
    if data is not None or root is not None:
        spec = spec.with_data(path=data, root=root)
    if is_shard_folder(spec.data.path):
        raise DataError(f"{spec.data.path} already holds shards; give the spec of the original table")
    if os.path.exists(out_dir) and not overwrite:
        raise FileExistsError(f"{os.path.abspath(out_dir)} already exists; pass overwrite=True (--overwrite) "
                              "to replace it.")
    splits = load_splits(spec)
    pre = Preprocessor(spec).adapt(splits["train"])
    index = {"format_version": FORMAT_VERSION, "mode": mode, "spec": spec.to_dict(),
             "source": {"table": spec.data.path, "root": spec.data.root}, "splits": {}}

    def write(tmp):
        pre.save(os.path.join(tmp, PREPROCESSOR_DIR))
        for split in SPLITS:
            df = splits.get(split)
            if df is None:
                continue
            if mode == "raw":
                ds = _raw_dataset(spec, pre, df, f"{split} split", batch_size)
            else:
                ds = make_dataset(spec, df, pre, training=False, shuffle=False, batch_size=batch_size,
                                  cache="none", table=f"{split} split")
            template = _template(ds.element_spec)
            features = _feature_info(template, ds.element_spec)
            if index.setdefault("structure", template) != template or index.setdefault("features", features) \
                    != features:
                raise DataError(f"The {split} split yields other tensors than the train split: "
                                f"{features} vs {index['features']}")
            try:
                files, count = _write_split(ds, tmp, split, shards, len(df), progress)
            except tf.errors.OpError as e:  # a file that cannot be decoded: name its row and column
                from mmkeras.data.checks import explain_op_error

                raise explain_op_error(e, pre, [(f"{split} split", df)], root=data_root(spec)) from None
            index["splits"][split] = {"count": count, "files": files}
        with open(os.path.join(tmp, INDEX_FILE), "w", encoding="utf-8") as f:
            json.dump(index, f, indent=1)

    _write_atomically(out_dir, write, overwrite)
    return index
