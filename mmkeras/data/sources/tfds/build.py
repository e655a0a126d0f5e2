"""A folder data set (a table + files) as a versioned TFDS dataset: `mmkeras tfds build SPEC --data-dir DIR`.

One feature per spec input and output, keyed by its name; the spec's
splits (as `data.split` makes them from the table); stored with TFDS's own
`tfds.dataset_builders.store_as_tfds_dataset`, so `tfds.load(NAME,
data_dir=DIR)` reads it in any process, with or without mmkeras.

| spec | TFDS feature |
| --- | --- |
| image input | `Image(shape=(None, None, C))`, the file's encoded bytes kept (C: 1, 3 or 4, enough for every file) |
| audio input | `Audio(dtype=int16, sample_rate=R)`: the 16-bit samples of the (WAV-converted) files |
| video input | `Video(shape=(None, None, None, C))`: the frame files' encoded bytes |
| text, categorical, boolean, multi_hot input | `Text()`: the cell as a string ("" when missing) |
| numeric input | `Scalar(float32)` (NaN when missing) |
| classification / binary output | `ClassLabel(names=...)`: the classes in the order training gives them |
| regression output (and numeric heads) | `Scalar(float32)` |
"""

import contextlib
import io
import os
import re
import shutil
import wave

import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_datasets as tfds
import yaml

from mmkeras.data.columns import as_strings
from mmkeras.data.paths import row_error
from mmkeras.data.preprocessor import Preprocessor
from mmkeras.data.sources.table import TableSource
from mmkeras.data.targets import ClassTarget, NumericTarget, make_target
from mmkeras.errors import DataError, SpecError
from mmkeras.files import write_atomically
from mmkeras.specs import load_spec

VERSION = "1.0.0"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SEPARATOR = "\x00"  # joins a clip's frame paths (`mmkeras.data.video.resolve_clips`)


def check_name(name):
    """A TFDS dataset name: lowercase letters, digits and underscores, starting with a letter.

    Example:

    >>> check_name("av_digits")
    'av_digits'
    >>> check_name("AV-digits")
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: TFDS dataset name 'AV-digits' must be lowercase letters, digits and underscores, starting with a letter (e.g. av_digits)
    """
    if not isinstance(name, str) or not _NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", str(name).lower()).strip("_") or "my_dataset"
        raise SpecError(f"TFDS dataset name {name!r} must be lowercase letters, digits and underscores, "
                        f"starting with a letter (e.g. {suggestion})")
    return name


def image_channels(data):
    """Channels of an encoded image (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA).

    Example:

    >>> image_channels(tf.io.encode_png(tf.zeros([2, 2, 4], tf.uint8)).numpy())
    4
    """
    return int(tf.io.decode_image(data, channels=0, expand_animations=False).shape[-1])


def stored_channels(counts):
    """The channels of a TFDS `Image` that holds files of these channel counts without losing any.

    Alpha (2 or 4) needs 4; colour 3; gray alone 1 (TFDS decodes to that count, as `decode_image` would).

    Example:

    >>> stored_channels([1, 3]), stored_channels([2]), stored_channels([1])
    (3, 4, 1)
    """
    counts = set(counts)
    return 4 if counts & {2, 4} else 3 if 3 in counts else 1


def wav_samples(path):
    """(int16 samples `[n]` or `[n, channels]`, rate) of a 16-bit PCM WAV file.

    Example:

    >>> path = os.path.join(tmp_dir, "a.wav")
    >>> tf.io.write_file(path, tf.audio.encode_wav(tf.constant([[0.5], [-0.5]]), 8000))
    >>> samples, rate = wav_samples(path)
    >>> samples.tolist(), rate
    ([16384, -16384], 8000)
    """
    with wave.open(path, "rb") as f:
        rate, channels = f.getframerate(), f.getnchannels()
        samples = np.frombuffer(f.readframes(f.getnframes()), "<i2")
    return (samples if channels == 1 else samples.reshape(-1, channels)), rate


def _media_column(spec, name, df_raw, table):
    """Checks a media input's resolved values (none missing) and returns (values, info for its TFDS feature)."""
    inp = spec.inputs[name]
    values = list(df_raw)
    for row, value in enumerate(values):
        if isinstance(value, str) and value == "":
            raise row_error(row, table, inp.column, f"no {inp.type}: a TFDS {inp.type} feature cannot hold a "
                                                    "missing value; drop or fill such rows before building")
    if inp.type == "audio":
        shapes = {(lambda s, r: (s.shape[1:], r))(*wav_samples(v)) for v in values}
        return values, shapes
    if inp.type == "image":
        return values, {image_channels(v if isinstance(v, bytes) else tf.io.read_file(v).numpy()) for v in values}
    frames = [v.split(_SEPARATOR) for v in values]
    return frames, {image_channels(tf.io.read_file(f).numpy()) for clip in frames for f in clip}


def _feature(spec, name, info, where):
    inp = spec.inputs[name]
    doc = f"mmkeras {inp.type} input {name!r} (column {inp.column!r})"
    if inp.type == "image":
        return tfds.features.Image(shape=(None, None, stored_channels(info)), doc=doc)
    if inp.type == "video":
        return tfds.features.Video(shape=(None, None, None, stored_channels(info)), doc=doc)
    if inp.type == "audio":
        if len(info) != 1:
            raise DataError(f"{where}, column {inp.column!r}: the audio files have different sample rates or "
                            f"channel counts ({sorted(info, key=str)[:4]}); a TFDS Audio feature holds one. "
                            "Convert them to one rate and channel count first")
        (shape, rate), = info
        return tfds.features.Audio(shape=(None, *shape), dtype=np.int16, sample_rate=rate, doc=doc)
    if inp.type == "numeric":
        return tfds.features.Scalar(np.float32, doc=doc)
    return tfds.features.Text(doc=doc)


def output_feature(output_spec, values):
    """The TFDS feature of an output: `ClassLabel` with the classes training uses (sorted), or a float scalar.

    Example:

    >>> output_feature(spec.outputs["label"], ["b", "a", "b"]).names
    ['a', 'b']
    """
    target = make_target(output_spec)
    doc = f"mmkeras {output_spec.type} output {output_spec.name!r} (column {output_spec.column!r})"
    if isinstance(target, ClassTarget):
        return tfds.features.ClassLabel(names=ClassTarget(output_spec).adapt(values).classes, doc=doc)
    if isinstance(target, NumericTarget):
        return tfds.features.Scalar(np.float32, doc=doc)
    raise SpecError(f"outputs.{output_spec.name}.type: {output_spec.type} outputs cannot be written as TFDS "
                    "features yet (classification, binary, regression and numeric outputs can)")


def _resolved(spec, source):
    """{split: {input: resolved values}}: absolute (WAV-converted) paths, strings, float32, as training reads them."""
    pre = Preprocessor(spec)
    return {split: pre.raw_columns(source.table(split), root=source.root, table=f"{split} split")
            for split in source.split_names}


def _example(spec, features, raw, df, row, table):
    example = {}
    for name, inp in spec.inputs.items():
        value = raw[name][row]
        if inp.type == "audio":
            value = wav_samples(value)[0]
        elif inp.type == "numeric":
            value = np.float32(value)
        example[name] = value
    for name, out in spec.outputs.items():
        value = df[out.column].iloc[row]
        if isinstance(features[name], tfds.features.ClassLabel):
            value = as_strings([value])[0]
            if value not in features[name].names:
                raise row_error(row, table, out.column, f"{value!r} is not a class ({features[name].names[:10]})")
        elif not np.isfinite(pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]):
            raise row_error(row, table, out.column, f"{value!r} is not a number")
        else:
            value = np.float32(value)
        example[name] = value
    return example


def tfds_features(spec, source, raw):
    """The `FeaturesDict` of a spec's data set: one feature per input and output, keyed by name (see the module).

    Args:
        spec: the Spec.
        source: its `TableSource`.
        raw: {split: {input: resolved values}} (paths, strings, float32).

    Returns:
        (a `tfds.features.FeaturesDict`, {split: {media input: values the examples hold}}).
    """
    features, media = {}, {split: {} for split in raw}
    for name, inp in spec.inputs.items():
        if inp.type in ("image", "audio", "video"):
            info = set()
            for split in raw:
                media[split][name], found = _media_column(spec, name, raw[split][name], f"{split} split")
                info |= found
            features[name] = _feature(spec, name, info, f"{spec.source or spec.name}")
        else:
            features[name] = _feature(spec, name, None, "")
    for name, out in spec.outputs.items():
        values = pd.concat([source.table(split)[out.column] for split in source.split_names])
        features[name] = output_feature(out, values)
    return tfds.features.FeaturesDict(features), media


def store(folder, *, name, version, shards=None, verbose=True, **dataset):
    """Writes a TFDS dataset's files into `folder` with `tfds.dataset_builders.store_as_tfds_dataset`.

    The dataset is built in `folder/.build` (TFDS writes `NAME/VERSION`
    there), its files are moved up into `folder` and the rest removed; the
    examples keep their order (`disable_shuffling`), nothing is fetched
    from the network (`try_download_gcs=False`).

    Args:
        folder: an empty folder (`write_atomically` gives one).
        name, version: the dataset's name and version.
        shards: files per split (None: TFDS's choice).
        verbose: show TFDS's messages and progress bars.
        **dataset: `features`, `split_datasets`, `description`, `release_notes`.

    Example:

    >>> features = tfds.features.FeaturesDict({"x": tfds.features.Scalar(np.float32)})
    >>> store(tmp_dir, name="numbers", version="1.0.0", verbose=False, features=features,
    ...       split_datasets={"train": [(0, {"x": 1.0}), (1, {"x": 2.0})]})
    >>> sorted(os.listdir(tmp_dir))[:2]
    ['dataset_info.json', 'features.json']
    """
    scratch = os.path.join(folder, ".build")
    quiet = contextlib.ExitStack()
    if not verbose:
        quiet.enter_context(contextlib.redirect_stdout(io.StringIO()))
        quiet.enter_context(contextlib.redirect_stderr(io.StringIO()))
    with quiet:
        tfds.dataset_builders.store_as_tfds_dataset(
            name=name, version=version, data_dir=scratch, disable_shuffling=True, file_format="tfrecord",
            download_config=tfds.download.DownloadConfig(try_download_gcs=False, num_shards=shards), **dataset)
    built = os.path.join(scratch, name, version)
    for entry in os.listdir(built):
        shutil.move(os.path.join(built, entry), os.path.join(folder, entry))
    shutil.rmtree(scratch)


def build_tfds_dataset(spec, data_dir, *, name=None, version=VERSION, shards=None, overwrite=False, verbose=True):
    """Writes a spec's table and files as the TFDS dataset `data_dir/NAME/VERSION` (see the module docstring).

    The splits are the spec's (`data.split` applied to the table); each
    keeps the table's row order (`disable_shuffling`), so training from it
    sees the examples training from the table sees.

    Args:
        spec: a Spec, spec file or dict with a table (`data.path`).
        data_dir: the TFDS data folder to write into.
        name: the dataset name (default: the spec's `name`).
        version: its version, "MAJOR.MINOR.PATCH".
        shards: files per split (default: TFDS's choice, one per ~64 MB);
            workers reading with `tfds.ReadConfig(input_context=...)` need
            at least one file each.
        overwrite: replace an existing `NAME/VERSION`.
        verbose: print TFDS's progress.

    Returns:
        {"name", "version", "path", "splits": {split: examples}}.

    Raises:
        FileExistsError: that version exists and `overwrite` is false.

    Example:

    >>> built = build_tfds_dataset(spec, tmp_dir, name="tiny_demo", verbose=False)
    >>> ds = tfds.load("tiny_demo", data_dir=tmp_dir, split="test")
    >>> built["splits"]["test"] == len(splits["test"]), sorted(next(iter(ds)))
    (True, ['caption', 'colour', 'label', 'picture', 'reading', 'sound'])
    """
    spec = load_spec(spec)
    name = check_name(name or spec.name)
    source = TableSource(spec)
    raw = _resolved(spec, source)
    features, media = tfds_features(spec, source, raw)
    table = spec.data.path

    def examples(split):
        df = source.table(split)
        columns = {**raw[split], **media[split]}
        return ((row, _example(spec, features, columns, df, row, f"{split} split")) for row in range(len(df)))

    def write(folder):
        description = (f"mmkeras data set {spec.name!r} from {table}: inputs "
                       f"{', '.join(f'{n} ({i.type})' for n, i in spec.inputs.items())}; outputs "
                       f"{', '.join(f'{n} ({o.type})' for n, o in spec.outputs.items())}.")
        store(folder, name=name, version=version, features=features, shards=shards, verbose=verbose,
              split_datasets={split: examples(split) for split in source.split_names}, description=description,
              release_notes={version: f"Built by `mmkeras tfds build` from {os.path.basename(table)}."})

    path = write_atomically(os.path.join(data_dir, name, version), write, overwrite)
    return {"name": name, "version": version, "path": path,
            "splits": {split: len(source.table(split)) for split in source.split_names}}


def tfds_spec_dict(spec, name, data_dir):
    """A spec dict that trains from the TFDS dataset `build_tfds_dataset` wrote: columns are input/output names.

    The TFDS splits are the ones the table spec has (train, and validation
    and test when its `data.split` sets them).

    Args:
        spec: the table spec it was built from.
        name: the dataset name.
        data_dir: the TFDS data folder (made absolute).

    Example:

    >>> tfds_spec_dict(spec, "demo", "/data/tfds")["data"]
    {'tfds': {'name': 'demo', 'data_dir': '/data/tfds', 'split': {'train': 'train', 'validation': 'validation', 'test': 'test'}}}
    """
    spec = load_spec(spec)
    out = spec.to_dict()
    splits = {split: split for split in ("train", "validation", "test") if getattr(spec.data.split, split) is not None}
    out["data"] = {"tfds": {"name": name, "data_dir": os.path.abspath(data_dir), "split": splits}}
    for key in ("inputs", "outputs"):
        for entry_name, entry in out.get(key, {}).items():
            entry["column"] = entry_name
    return out


def write_tfds_spec(spec, name, data_dir, path, *, overwrite=False):
    """Writes `tfds_spec_dict` as a YAML spec file that `mmkeras train` takes; returns `path`.

    Raises:
        FileExistsError: `path` exists and `overwrite` is false.

    Example:

    >>> path = write_tfds_spec(spec, "demo", "/data/tfds", os.path.join(tmp_dir, "demo_tfds.yaml"))
    >>> mmkeras.load_spec(path).data.tfds.name
    'demo'
    """
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it.")
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        yaml.safe_dump(tfds_spec_dict(spec, name, data_dir), f, sort_keys=False, allow_unicode=True)
    os.replace(tmp, path)
    return path
