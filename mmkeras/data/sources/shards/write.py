"""TFRecord shards: a spec's splits written once as model-ready examples, read back in parallel.

`convert_to_shards` runs the ordinary evaluation pipeline
(`mmkeras.data.pipeline.stages`, no shuffling, no augmentation) over every split and writes what it yields,
one `tf.train.Example` per example, into `DIR/<split>-0000k-of-0000N.tfrecord`
(each shard a contiguous block of rows), next to `DIR/preprocessor/` (the
adapted preprocessor) and `DIR/shards.json` (format version, the spec, the
features with dtype and shape, per-split counts and files; see `format.py`).
With `mode="raw"` the pipeline stops after reading the files: what is stored
is file bytes, strings and numbers, decoded when the shards are read.

Every tensor is stored as one bytes feature: numbers as their raw
little-endian bytes (read back exactly with `tf.io.decode_raw`), strings as
they are. Whatever keys the pipeline yields are written, so the format
follows the model's inputs without knowing them.

`mmkeras.data.sources.shards.read.shard_dataset` reads them back.
"""

import json
import os
import sys
import time

import numpy as np
import tensorflow as tf

from mmkeras.data.checks import explain_op_error
from mmkeras.data.pipeline import stages
from mmkeras.data.sources.shards.format import (FORMAT_VERSION, INDEX_FILE, MODES, PREPROCESSOR_DIR,
                                                element_template, feature_info, flatten_element,
                                                is_shard_folder, shard_file_name)
from mmkeras.data.sources.table import TableSource, has_targets, table_examples
from mmkeras.errors import DataError
from mmkeras.files import write_atomically
from mmkeras.specs import load_spec


# -- writing -------------------------------------------------------------------------
def serialize_example(flat, i):
    """One `tf.train.Example` (serialized) from row `i` of a batch {key: numpy array}.

    Every value becomes one bytes feature: numbers as their little-endian
    bytes, strings (object arrays) as they are, trailing NUL bytes kept.

    Example:

    >>> record = serialize_example({"0/x": np.array([[1.0, 2.0]], np.float32)}, 0)
    >>> tf.train.Example.FromString(record).features.feature["0/x"].bytes_list.value[0]
    b'\\x00\\x00\\x80?\\x00\\x00\\x00@'
    """
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
    template = element_template(ds.element_spec)
    k, row = 0, 0
    writer = tf.io.TFRecordWriter(os.path.join(folder, files[0]))
    try:
        for batch in ds.as_numpy_iterator():
            flat = dict(flatten_element(template, batch))
            for i in range(len(next(iter(flat.values())))):
                while k + 1 < shards and row >= bounds[k + 1]:
                    writer.close()
                    k += 1
                    writer = tf.io.TFRecordWriter(os.path.join(folder, files[k]))
                writer.write(serialize_example(flat, i))
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


def convert_to_shards(spec, out_dir, shards=8, *, overwrite=False, mode="preprocessed", data=None, root=None,
                      batch_size=256, progress=True):
    """Writes a spec's splits as sharded TFRecord files of model-ready examples.

    The preprocessor is adapted on the train split (as `mmkeras train`
    does) and saved in `out_dir/preprocessor/`; each split then goes through
    the evaluation pipeline (`pipeline.stages`: no shuffling, no
    augmentation), and every example (inputs and encoded targets, whatever
    keys the pipeline yields) is written into
    `out_dir/<split>-0000k-of-0000N.tfrecord`. `shards.json` records the
    spec, the features (dtype, shape), counts and files. The folder is
    written under a temporary name and renamed when complete.

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

    Raises:
        DataError: a bad `mode` or `shards`, a spec whose data already are
            shards, or a file that cannot be decoded (named by row and column).

    Example:

    >>> index = convert_to_shards(spec, os.path.join(tmp_dir, "shards"), shards=2, progress=False)
    >>> index["splits"]["test"]["count"] == len(splits["test"]), index["mode"]
    (True, 'preprocessed')
    """
    if mode not in MODES:
        raise DataError(f"mode: {mode!r} is not supported; allowed: {', '.join(MODES)}")
    if not isinstance(shards, int) or shards < 1:
        raise DataError(f"shards: {shards!r} is not a positive integer")
    spec = load_spec(spec)
    if data is not None or root is not None:
        spec = spec.with_data(path=data, root=root)
    if is_shard_folder(spec.data.path):
        raise DataError(f"{spec.data.path} already holds shards; give the spec of the original table")
    if os.path.exists(out_dir) and not overwrite:
        raise FileExistsError(f"{os.path.abspath(out_dir)} already exists; pass overwrite=True (--overwrite) "
                              "to replace it.")
    source = TableSource(spec)
    pre = source.preprocessor()
    index = {"format_version": FORMAT_VERSION, "mode": mode, "spec": spec.to_dict(),
             "source": {"table": spec.data.path, "root": spec.data.root}, "splits": {}}

    def write(tmp):
        pre.save(os.path.join(tmp, PREPROCESSOR_DIR))
        for split in source.split_names:
            index["splits"][split] = _convert_split(source, split, pre, index, tmp, mode=mode, shards=shards,
                                                    batch_size=batch_size, progress=progress)
        with open(os.path.join(tmp, INDEX_FILE), "w", encoding="utf-8") as f:
            json.dump(index, f, indent=1)

    write_atomically(out_dir, write, overwrite)
    return index


def _convert_split(source, split, pre, index, folder, *, mode, shards, batch_size, progress):
    """Writes one split's shards into `folder`; returns its `shards.json` entry (and fills the index's layout)."""
    df, table = source.table(split), f"{split} split"
    targets = has_targets(source.spec, df)
    examples = table_examples(source.spec, df, pre, with_targets=targets, root=source.root, table=table)
    ds = stages(examples, pre, batch_size=batch_size, decode=mode == "preprocessed", with_targets=targets)
    template = element_template(ds.element_spec)
    features = feature_info(template, ds.element_spec)
    if index.setdefault("structure", template) != template or index.setdefault("features", features) != features:
        raise DataError(f"The {split} split yields other tensors than the train split: "
                        f"{features} vs {index['features']}")
    try:
        files, count = _write_split(ds, folder, split, shards, len(df), progress)
    except tf.errors.OpError as e:  # a file that cannot be decoded: name its row and column
        raise explain_op_error(e, pre, [(table, df)], root=source.root) from None
    return {"count": count, "files": files}
