"""The pipeline stages every source runs: read files, decode per example, batch, transform per batch, prefetch.

`stages` takes a `tf.data.Dataset` of single examples `(raw, contexts,
targets)`, where `raw` is {input: raw scalar} (file paths, or file bytes
once read), `contexts` {file input: "row R of T, column 'C', file F"} for
decode errors, and `targets` {} / {output: encoded target} /
`({output: target}, {output: sample weight})`. Tables
(`mmkeras.data.sources.table.make_dataset`), shard writing (the evaluation
pipeline, or reading only for raw shards) and shard reading (raw shards are
decoded and transformed again) all go through it, so the three give the same
tensors.
"""

import tempfile

import tensorflow as tf

from mmkeras.data.presence import PRESENCE, presence_vector

# Largest shuffle buffer after a disk cache: bounds memory for big tables.
DISK_SHUFFLE_BUFFER = 8192
# Batch size of the vectorised transform when its output is cached per example.
CACHE_BATCH = 256
CACHES = ("none", "memory", "disk")
_PARALLEL = {"num_parallel_calls": tf.data.AUTOTUNE}


def pipeline_options(deterministic):
    """The tf.data options mmkeras uses: autotuned parallelism, parallel batching.

    Args:
        deterministic: keep the element order reproducible.

    Example:

    >>> pipeline_options(True).deterministic
    True
    """
    options = tf.data.Options()
    options.deterministic = deterministic
    options.autotune.enabled = True
    options.experimental_optimization.map_parallelization = True
    options.experimental_optimization.parallel_batch = True
    return options


def finish(ds, *, with_targets=True, deterministic=True):
    """The last stage: inputs only unless `with_targets`, then prefetch, with `pipeline_options`.

    Args:
        ds: batches of `inputs`, `(inputs, targets)` or `(inputs, targets, sample_weights)`.
        with_targets: False keeps the inputs only.
        deterministic: see `pipeline_options`.

    Example:

    >>> ds = tf.data.Dataset.from_tensors(({"x": [1.0]}, {"y": [0]}))
    >>> list(finish(ds, with_targets=False).as_numpy_iterator())
    [{'x': array([1.], dtype=float32)}]
    """
    if not with_targets and isinstance(ds.element_spec, tuple):
        ds = ds.map(lambda *parts: parts[0])
    return ds.prefetch(tf.data.AUTOTUNE).with_options(pipeline_options(deterministic=deterministic))


def layout(inputs, targets):
    """`(inputs, targets)` as Keras takes them: `(inputs, targets, sample_weights)` when targets carry weights.

    Example:

    >>> layout({"x": 1}, ({"y": 0}, {"y": 2.0}))
    ({'x': 1}, {'y': 0}, {'y': 2.0})
    """
    if isinstance(targets, tuple):
        return (inputs, *targets)
    return inputs, targets


def stages(examples, preprocessor, *, batch_size, training=False, drop_remainder=False, read=True, decode=True,
           shuffle_buffer=0, seed=None, cache="none", cache_dir=None, with_targets=True, deterministic=True,
           decode_example=None, service=None):
    """Runs the pipeline stages over single examples `(raw, contexts, targets)` (see the module docstring).

    In order: read the files (`Feature.read`, and the `"_presence"` vector
    from the raw values, before any file is read), decode each example
    (`Preprocessor.decode_example`, random crops in training), batch,
    transform each batch (`Preprocessor.transform_batch`, augmentation in
    training), lay out targets and sample weights, prefetch. Without a
    cache, examples are shuffled before any file is read (memory stays
    flat). With `cache="memory"` or `"disk"` what the first epoch computed is
    kept: the model-ready examples when nothing is random, the decoded
    examples when training augments them, the file bytes when decoding
    itself is random; the shuffle then follows the cache.

    Args:
        examples: a `tf.data.Dataset` of unbatched `(raw, contexts, targets)`.
        preprocessor: an adapted `mmkeras.Preprocessor`.
        batch_size: examples per batch.
        training: random crops and augmentation on.
        drop_remainder: drop the last partial batch (static shapes for XLA).
        read: False when `raw` already holds file bytes and presence (raw shards).
        decode: False stops after reading: batches of `(raw, contexts,
            targets)`, what raw shards store.
        shuffle_buffer: examples in the shuffle buffer; 0 keeps the order.
        seed: seed of the shuffle.
        cache: "none", "memory" or "disk".
        cache_dir: folder of the disk cache (default: a new temporary folder).
        with_targets: False yields inputs only.
        deterministic: see `pipeline_options`.
        decode_example: the per-example decode, `fn(raw, contexts, *,
            training)` (default `preprocessor.decode_example`); a source whose
            raw values are not file bytes (TFDS) passes its own.
        service: a stage `ds -> ds` the shuffled, read and decoded single
            examples go through before batching (the tf.data service:
            `mmkeras.distribute.data_service.service_stage`); no cache then.

    Returns:
        A batched, prefetched `tf.data.Dataset` of `inputs`, `(inputs,
        targets)` or `(inputs, targets, sample_weights)`.

    Example:

    >>> rows = mmkeras.data.sources.table.table_examples(spec, splits["test"], pre)
    >>> inputs, targets = next(iter(stages(rows, pre, batch_size=4)))
    >>> inputs["picture"].shape[0], sorted(targets)
    (4, ['label'])
    """
    if cache not in CACHES:
        raise ValueError(f"cache must be 'none', 'memory' or 'disk', got {cache!r}")
    pre = preprocessor
    decode_example = decode_example or pre.decode_example

    def read_files(raw, contexts, targets):
        raw = dict(raw)
        raw[PRESENCE] = presence_vector(pre.features, raw)  # from the raw values, before any file is read
        for name, feature in pre.features.items():
            if feature.is_file:
                raw[name] = feature.read(raw[name])
        return raw, contexts, targets

    def decode_one(raw, contexts, targets):
        return decode_example(raw, contexts, training=training), targets

    def transform(decoded, targets):
        return layout(pre.transform_batch(decoded, training=training), targets)

    def shuffled(ds):
        return ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True) if shuffle_buffer else ds

    def batched(ds):
        return ds.batch(batch_size, drop_remainder=drop_remainder)

    ds = examples
    if cache == "none":  # shuffle the (small) rows before any file is read: memory stays flat
        ds = shuffled(ds).map(read_files, **_PARALLEL) if read else shuffled(ds)
        if not decode:
            return finish(batched(ds), deterministic=deterministic)
        ds = ds.map(decode_one, **_PARALLEL)
        ds = batched(service(ds) if service else ds).map(transform, **_PARALLEL)
        return finish(ds, with_targets=with_targets, deterministic=deterministic)
    if service:
        raise ValueError(f"a service stage (training.data_service) decodes examples remotely: it takes no cache, "
                         f"got cache={cache!r}")
    store = tempfile.mkdtemp(prefix="mmkeras-cache-", dir=cache_dir) + "/cache" if cache == "disk" else ""
    ds = ds.map(read_files, **_PARALLEL) if read else ds
    if training and any(f.is_file and f.decode_is_random for f in pre.features.values()):
        ds = batched(shuffled(ds.cache(store)).map(decode_one, **_PARALLEL)).map(transform, **_PARALLEL)
    elif training and any(f.transform_is_random for f in pre.features.values()):
        ds = batched(shuffled(ds.map(decode_one, **_PARALLEL).cache(store))).map(transform, **_PARALLEL)
    else:  # cache model-ready examples: later epochs only shuffle and batch
        ds = ds.map(decode_one, **_PARALLEL).batch(CACHE_BATCH).map(transform, **_PARALLEL).unbatch()
        ds = batched(shuffled(ds.cache(store)))
    return finish(ds, with_targets=with_targets, deterministic=deterministic)
