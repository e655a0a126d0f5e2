"""Reading TFRecord shards written by `mmkeras.data.sources.shards.write.convert_to_shards`.

`shard_dataset` reads one split: the files (optionally one worker's part of
them, for multi-host training), read in parallel with `interleave`, shuffled,
batched, then parsed a whole batch at a time; shards of mode "raw" are then
decoded and transformed by the preprocessor as `make_dataset` does.
"""

import os

import tensorflow as tf

from mmkeras.data.pipeline import finish, stages
from mmkeras.data.preprocessor import Preprocessor
from mmkeras.data.sources.shards.format import PREPROCESSOR_DIR, read_index, restore_element
from mmkeras.errors import DataError

# Examples buffered for shuffling after the files are interleaved, at most, and
# at most SHUFFLE_BYTES of them (preprocessed images are large): memory stays flat.
SHUFFLE_BUFFER = 4096
SHUFFLE_BYTES = 256 * 2**20
# Files read at the same time in training.
READ_CYCLE = 8
# Raw-mode records parsed together before decoding them one by one.
PARSE_CHUNK = 64


def shuffle_buffer(index, count):
    """Examples in the shuffle buffer: all of them up to SHUFFLE_BUFFER, and at most SHUFFLE_BYTES of tensors.

    Example:

    >>> index = {"features": {"0/picture": {"dtype": "float32", "shape": [32, 32, 3]}}}
    >>> shuffle_buffer(index, 100), shuffle_buffer(index, 10**6)
    (100, 4096)
    """
    size = 0
    for info in index["features"].values():
        if info["dtype"] != "string":  # strings (raw mode) are small next to decoded tensors
            items = 1
            for d in info["shape"]:
                items *= d
            size += items * tf.dtypes.as_dtype(info["dtype"]).size
    return max(1, min(SHUFFLE_BUFFER, count, SHUFFLE_BYTES // max(size, 1)))


def parse_fn(index):
    """A function: `[batch]` serialized Examples -> the element structure `make_dataset` yielded.

    Example:

    >>> index = {"structure": [{"x": "0/x"}, {"y": "1/y"}],
    ...          "features": {"0/x": {"dtype": "float32", "shape": [2]}, "1/y": {"dtype": "int64", "shape": []}}}
    >>> from mmkeras.data.sources.shards.write import serialize_example
    >>> record = serialize_example(
    ...     {"0/x": np.array([[1.5, 2.0]], np.float32), "1/y": np.array([7])}, 0)
    >>> inputs, targets = parse_fn(index)(tf.constant([record]))
    >>> inputs["x"].numpy().tolist(), targets["y"].numpy().tolist()
    ([[1.5, 2.0]], [7])
    """
    features, template = index["features"], index["structure"]
    description = {k: tf.io.FixedLenFeature(v["shape"] if v["dtype"] == "string" else [], tf.string)
                   for k, v in features.items()}

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, description)
        flat = {}
        for key, info in features.items():
            if info["dtype"] == "string":
                flat[key] = parsed[key]
            else:
                values = tf.io.decode_raw(parsed[key], tf.dtypes.as_dtype(info["dtype"]))
                flat[key] = tf.reshape(values, [-1, *info["shape"]])
        return restore_element(template, flat)

    return parse


def split_files(folder, split, *, num_shards=None, shard_index=None, index=None):
    """The shard files of a split, or worker `shard_index`'s part of them (every `num_shards`-th file).

    Example:

    >>> folder = os.path.join(tmp_dir, "shards")
    >>> from mmkeras.data.sources.shards.write import convert_to_shards
    >>> _ = convert_to_shards(spec, folder, 4, progress=False)
    >>> [os.path.basename(f) for f in split_files(folder, "train", num_shards=2, shard_index=1)]
    ['train-00001-of-00004.tfrecord', 'train-00003-of-00004.tfrecord']
    """
    index = index or read_index(folder)
    if split not in index["splits"]:
        raise DataError(f"{folder} has no {split} split; it has {', '.join(index['splits'])}")
    files = [os.path.join(folder, f) for f in index["splits"][split]["files"]]
    if num_shards is None and shard_index is None:
        return files
    if num_shards is None or shard_index is None or not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index {shard_index!r} / num_shards {num_shards!r}: give both, "
                         "with 0 <= shard_index < num_shards")
    if num_shards > len(files):
        raise DataError(f"num_shards: {num_shards} workers but the {split} split of {folder} has only "
                         f"{len(files)} files; convert with --shards {num_shards} or more")
    return files[shard_index::num_shards]


def shard_dataset(folder, split, *, batch_size=32, training=False, shuffle=None, seed=0, num_shards=None,
                  shard_index=None, deterministic=None, with_targets=True, preprocessor=None):
    """Reads one split of a shard folder as a batched, prefetched `tf.data.Dataset`.

    In training the files are shuffled, read `READ_CYCLE` at a time in
    parallel (`interleave`), examples shuffled in a buffer, and the last
    partial batch dropped (static shapes for XLA). Otherwise the files are
    read in order, so examples come in the order of the table. Batches are
    parsed whole (`tf.io.parse_example` + `tf.io.decode_raw`). Shards of
    mode "raw" are then decoded per example and transformed per batch by the
    preprocessor, with random crops and augmentation in training.

    Args:
        folder: a folder written by `convert_to_shards`.
        split: "train", "validation" or "test".
        batch_size: examples per batch.
        training: shuffle (default), drop the last partial batch.
        shuffle: override the shuffling default (`training`).
        seed: seed of the file and example shuffles.
        num_shards, shard_index: read only this worker's files (multi-host jobs).
        deterministic: keep a reproducible order (default: when not shuffling).
        with_targets: yield `(inputs, targets)` as written; False: inputs only.
        preprocessor: mode "raw" only: the adapted Preprocessor to decode
            with (default: the one saved in `folder`).

    Returns:
        A `tf.data.Dataset` with the elements `make_dataset` yielded at conversion.

    Example:

    >>> folder = os.path.join(tmp_dir, "shards")
    >>> from mmkeras.data.sources.shards.write import convert_to_shards
    >>> _ = convert_to_shards(spec, folder, 2, progress=False)
    >>> train_ds = shard_dataset(folder, "train", batch_size=8, training=True)
    >>> inputs, targets = next(iter(train_ds))
    >>> inputs["picture"].shape, targets["label"].shape
    (TensorShape([8, 32, 32, 3]), TensorShape([8]))
    """
    index = read_index(folder)
    files = split_files(folder, split, num_shards=num_shards, shard_index=shard_index, index=index)
    shuffle = training if shuffle is None else shuffle
    deterministic = (not shuffle) if deterministic is None else deterministic
    count = index["splits"][split]["count"] * len(files) // max(len(index["splits"][split]["files"]), 1)
    file_ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        file_ds = file_ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        records = file_ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), READ_CYCLE),
                                     block_length=1, num_parallel_calls=tf.data.AUTOTUNE,
                                     deterministic=deterministic)
        records = records.shuffle(shuffle_buffer(index, count), seed=seed, reshuffle_each_iteration=True)
    else:  # files in order: examples in table order
        records = tf.data.TFRecordDataset(file_ds)
    drop = training and count >= batch_size
    if index["mode"] == "preprocessed":  # model-ready: parse whole batches, nothing left to do
        ds = records.batch(batch_size, drop_remainder=drop).map(parse_fn(index), num_parallel_calls=tf.data.AUTOTUNE)
        return finish(ds, with_targets=with_targets, deterministic=deterministic)
    # raw: (file bytes and presence, contexts, targets) -> decode, batch, transform, as for tables
    examples = records.batch(PARSE_CHUNK).map(parse_fn(index), num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    pre = preprocessor or Preprocessor.load(os.path.join(folder, PREPROCESSOR_DIR))
    return stages(examples, pre, batch_size=batch_size, training=training, drop_remainder=drop, read=False,
                  with_targets=with_targets and index["structure"][2] != {}, deterministic=deterministic)
