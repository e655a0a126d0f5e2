"""`make_dataset`: a table -> a batched, prefetched `tf.data.Dataset` of model inputs."""

import numpy as np
import tensorflow as tf

from mmkeras.data.tables import check_columns, data_root


def make_dataset(spec, df, preprocessor, *, training=False, batch_size=None, shuffle=None,
                 with_targets=None, root=None, table=""):
    """Builds the input pipeline for one table.

    Files are read and decoded per example with parallel `map`, then batched
    (static batch size in training: the last partial batch is dropped), then
    vectorised per-batch work (token lookup, audio features, standardisation)
    runs in a second parallel `map`, and batches are prefetched.

    Args:
        spec: the spec (only used for batch size, seed and columns).
        df: a DataFrame with the spec's input (and output) columns.
        preprocessor: an adapted `mmkeras.Preprocessor`.
        training: shuffle every epoch and drop the last partial batch.
        batch_size: default `spec.training.batch_size`.
        shuffle: default `training`.
        with_targets: yield `(inputs, targets)`; default: when the table has
            every output column.
        root: folder for relative file paths (default: the spec's data root).
        table: name of the table, used in error messages.

    Returns:
        A `tf.data.Dataset` of `(inputs, targets)` dicts (or `inputs` only).

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

    ds = tf.data.Dataset.from_tensor_slices((raw, contexts, targets))
    if shuffle:
        ds = ds.shuffle(len(df), seed=spec.training.seed, reshuffle_each_iteration=True)

    files = [n for n, f in pre.features.items() if f.is_file]

    def decode(raw, contexts, targets):
        raw = dict(raw)
        for name in files:
            raw[name] = pre.features[name].read(raw[name])
        return pre.decode_example(raw, contexts, training=training), targets

    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)
    ds = ds.batch(batch_size, drop_remainder=training and len(df) >= batch_size)

    def transform(decoded, targets):
        features = pre.transform_batch(decoded, training=training)
        return (features, targets) if with_targets else features

    ds = ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
