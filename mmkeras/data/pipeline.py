"""`make_dataset`: a table -> a batched, prefetched `tf.data.Dataset` of model inputs."""

import tempfile

import tensorflow as tf

from mmkeras.data.presence import PRESENCE, presence_vector
from mmkeras.data.sources.table import check_columns, data_root
from mmkeras.data.targets import sample_weights

# Largest shuffle buffer after a disk cache: bounds memory for big tables.
DISK_SHUFFLE_BUFFER = 8192
# Batch size of the vectorised transform when its output is cached per example.
CACHE_BATCH = 256


def pipeline_options(deterministic):
    """The tf.data options mmkeras uses: autotuned parallelism, parallel batching."""
    options = tf.data.Options()
    options.deterministic = deterministic
    options.autotune.enabled = True
    options.experimental_optimization.map_parallelization = True
    options.experimental_optimization.parallel_batch = True
    return options


def make_dataset(spec, df, preprocessor, *, training=False, batch_size=None, shuffle=None,
                 with_targets=None, root=None, table="", cache=None, cache_dir=None):
    """Builds the input pipeline for one table.

    Files are read and decoded per example with parallel `map`, optionally
    batched (static batch size in training: the last partial batch is
    dropped), then vectorised per-batch work (token lookup, audio features,
    standardisation, augmentation in training) runs in a second parallel
    `map`, and batches are prefetched.

    Without a cache the (small) table rows are shuffled before any file is
    read, so memory stays flat however large the table. With
    `cache="memory"` or `"disk"`, what the first epoch computed is kept: the
    model-ready examples when nothing is random, the decoded examples when
    training augments them, the file bytes when decoding itself is random
    (random crops); later epochs redo only the random part.

    Args:
        spec: the spec (batch size, seed, cache, columns); None for the preprocessor's.
        df: a DataFrame with the spec's input (and output) columns.
        preprocessor: an adapted `mmkeras.Preprocessor`.
        training: shuffle every epoch, enable augmentation, drop the last partial batch.
        batch_size: default `spec.training.batch_size`.
        shuffle: default `training`.
        with_targets: yield `(inputs, targets)`; default: when the table has
            every output column.
        root: folder for relative file paths (default: the spec's data root).
        table: name of the table, used in error messages.
        cache: "none", "memory" or "disk"; default `spec.training.cache`.
        cache_dir: folder for the disk cache (default: a new temporary folder).

    Returns:
        A `tf.data.Dataset` of `(inputs, targets)` dicts (or `inputs` only);
        `(inputs, targets, sample_weights)` when an output has
        `class_weight: balanced` (weights from `targets.sample_weights`).
        `inputs["_presence"]` is float32 `[batch, n_inputs]` (spec input
        order): 0 where the row's value is missing (empty path or string, NaN).

    Example:

    >>> train_ds = mmkeras.make_dataset(spec, splits["train"], pre, training=True)
    >>> model.fit(train_ds, epochs=1)
    """
    pre = preprocessor
    if not pre.adapted:
        raise ValueError("The preprocessor is not adapted; call Preprocessor(spec).adapt(train_df) first.")
    spec = pre.spec if spec is None else spec
    batch_size = batch_size or spec.training.batch_size
    shuffle = training if shuffle is None else shuffle
    cache = cache or spec.training.cache
    if cache not in ("none", "memory", "disk"):
        raise ValueError(f"cache must be 'none', 'memory' or 'disk', got {cache!r}")
    out_columns = [o.column for o in spec.outputs.values()]
    if with_targets is None:
        with_targets = all(c in df.columns for c in out_columns)
    elif with_targets:
        check_columns(df, out_columns, table)

    raw = pre.raw_columns(df, root=root or data_root(spec), table=table)
    contexts = {n: pre.contexts(df, n, raw[n], table) for n, f in pre.features.items() if f.is_file}
    targets = {}
    if with_targets:
        targets = {n: t.encode(df[spec.outputs[n].column], table) for n, t in pre.targets.items()}
        weights = sample_weights(spec, pre.targets, targets)  # {} unless an output has class_weight: balanced
        if weights:  # carried through every map with the targets, split off at the end
            targets = (targets, weights)

    files = [n for n, f in pre.features.items() if f.is_file]
    random_decode = training and any(pre.features[n].decode_is_random for n in files)
    random_transform = training and any(f.transform_is_random for f in pre.features.values())

    def read(raw, contexts, targets):
        raw = dict(raw)
        raw[PRESENCE] = presence_vector(pre.features, raw)  # from the raw values, before any file is read
        for name in files:
            raw[name] = pre.features[name].read(raw[name])
        return raw, contexts, targets

    def decode(raw, contexts, targets):
        return pre.decode_example(raw, contexts, training=training), targets

    def transform(decoded, targets):
        return pre.transform_batch(decoded, training=training), targets

    def shuffled(ds, buffer):
        return ds.shuffle(buffer, seed=spec.training.seed, reshuffle_each_iteration=True) if shuffle else ds

    parallel = {"num_parallel_calls": tf.data.AUTOTUNE}
    drop = training and len(df) >= batch_size
    ds = tf.data.Dataset.from_tensor_slices((raw, contexts, targets))
    if cache == "none":
        # Shuffle the (small) rows before any file is read: memory stays flat.
        ds = shuffled(ds, len(df)).map(read, **parallel).map(decode, **parallel)
        ds = ds.batch(batch_size, drop_remainder=drop).map(transform, **parallel)
    else:
        store = tempfile.mkdtemp(prefix="mmkeras-cache-", dir=cache_dir) + "/cache" if cache == "disk" else ""
        buffer = len(df) if cache == "memory" else min(len(df), DISK_SHUFFLE_BUFFER)
        ds = ds.map(read, **parallel)
        if random_decode:  # cache file bytes; decode (random crops...) every epoch
            ds = shuffled(ds.cache(store), buffer).map(decode, **parallel)
            ds = ds.batch(batch_size, drop_remainder=drop).map(transform, **parallel)
        elif random_transform:  # cache decoded examples; augment every epoch
            ds = shuffled(ds.map(decode, **parallel).cache(store), buffer)
            ds = ds.batch(batch_size, drop_remainder=drop).map(transform, **parallel)
        else:  # cache model-ready examples: later epochs only shuffle and batch
            ds = ds.map(decode, **parallel).batch(CACHE_BATCH).map(transform, **parallel).unbatch()
            ds = shuffled(ds.cache(store), buffer).batch(batch_size, drop_remainder=drop)
    if not with_targets:
        ds = ds.map(lambda features, targets: features)
    elif isinstance(targets, tuple):  # (inputs, targets, sample_weights)
        ds = ds.map(lambda features, targets: (features, *targets))
    ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds.with_options(pipeline_options(deterministic=spec.training.deterministic or not shuffle))
