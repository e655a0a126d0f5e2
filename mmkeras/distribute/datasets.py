"""Datasets under a strategy: global batches sharded across workers, per-epoch order kept on resume.

Every mmkeras dataset is batched by the GLOBAL batch (`training.batch_size`)
with static shapes in training; Keras' `model.fit` splits each global batch
over the replicas (`strategy.experimental_distribute_dataset`). Across
workers (`multi_worker`), tables are sharded by row (`AutoShardPolicy.DATA`:
each worker keeps its part of every global batch, so the examples of a step
are those a single process would see) and TFRecord shard folders by file
(`AutoShardPolicy.FILE`: each worker reads its own files); a folder with
fewer files than workers is refused with a message instead of hanging.
"""

import tensorflow as tf

from mmkeras.errors import DataError

SHARDING = {"data": tf.data.experimental.AutoShardPolicy.DATA,
            "file": tf.data.experimental.AutoShardPolicy.FILE,
            "off": tf.data.experimental.AutoShardPolicy.OFF}


def for_strategy(ds, strategy, *, sharding="data"):
    """A dataset of global batches, with the auto-shard policy a strategy's workers split it by.

    Args:
        ds: a batched `tf.data.Dataset` (global batches).
        strategy: a `tf.distribute.Strategy` (or None: `ds` unchanged).
        sharding: "data" (by row: tables), "file" (by file: shard folders) or "off".

    Returns:
        `ds` with `experimental_distribute.auto_shard_policy` set (and, by
        row, a deterministic order: each worker keeps its part of every
        global batch, so all must build the same batches); Keras' `fit`
        distributes it over the replicas.

    Example:

    >>> ds = for_strategy(tf.data.Dataset.range(8).batch(4), tf.distribute.get_strategy())
    >>> ds.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA
    True
    """
    if strategy is None:
        return ds
    if sharding not in SHARDING:
        raise ValueError(f"sharding must be one of {', '.join(SHARDING)}, got {sharding!r}")
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = SHARDING[sharding]
    if sharding == "data":  # every worker must build the same global batches to keep its part of each
        options.deterministic = True
    return ds.with_options(options)


def check_files_per_worker(files, workers, where):
    """Refuses a file-sharded split with fewer files than workers (a worker would get no data and the others wait).

    Args:
        files: number of files of the split.
        workers: number of training workers.
        where: what the files are (named in the message), e.g. "the train split of shards/demo".

    Example:

    >>> check_files_per_worker(2, 4, "the train split of shards/demo")
    Traceback (most recent call last):
    ...
    mmkeras.errors.DataError: the train split of shards/demo has 2 files for 4 workers: each worker reads whole files, so a worker would get none; convert with --shards 4 (or a multiple of 4)
    """
    if files < workers:
        raise DataError(f"{where} has {files} files for {workers} workers: each worker reads whole files, so a "
                        f"worker would get none; convert with --shards {workers} (or a multiple of {workers})")


def fast_forward(ds, epochs):
    """Moves a dataset's per-epoch shuffle on by `epochs` epochs, without reading any example.

    A dataset shuffled with a seed and `reshuffle_each_iteration` draws the
    next epoch's order whenever an iterator is made; Keras' `fit` makes one
    per epoch. A resumed run makes (and drops) one iterator per epoch
    already trained, so epoch k sees the order it had in the first run.

    Example:

    >>> ds = tf.data.Dataset.range(6).shuffle(6, seed=1, reshuffle_each_iteration=True)
    >>> orders = [list(ds.as_numpy_iterator()) for _ in range(3)]
    >>> again = tf.data.Dataset.range(6).shuffle(6, seed=1, reshuffle_each_iteration=True)
    >>> list(fast_forward(again, 2).as_numpy_iterator()) == orders[2]
    True
    """
    for _ in range(epochs):
        iterator = iter(ds)
        del iterator
    return ds


def epoch_stream(ds, steps=None):
    """`(dataset, steps_per_epoch)` for Keras' `fit`: one pass of `ds` per epoch, one shuffle order per epoch.

    When the batches of one pass are known (`ds.cardinality()`, else
    `steps`), `fit` gets `ds.repeat()` and that many steps per epoch: it
    then keeps one iterator, and each epoch is the next repetition, whose
    order the shuffle draws once; epoch k sees the k-th order the dataset
    draws, which `fast_forward` reaches. (Given `ds` itself, Keras 3 makes
    a new iterator at the start and at the end of each epoch: two draws per
    epoch.) When neither is known, `ds` is given as it is.

    Args:
        ds: the training dataset (one pass).
        steps: its batches per pass, when TensorFlow cannot count them
            (TFRecord shards, the tf.data service).

    Example:

    >>> stream, steps = epoch_stream(tf.data.Dataset.range(8).batch(4))
    >>> steps, [int(b[0]) for b in stream.take(3)]
    (2, [0, 4, 0])
    """
    known = int(ds.cardinality())
    steps = known if known > 0 else steps
    if steps:
        return ds.repeat(), steps
    return ds, None


def resumed_stream(ds, steps, epoch, step, *, rewritten=False):
    """`(dataset, steps_per_epoch)` for the `fit` that starts at step `step` of epoch `epoch` (0-based).

    In one process (and under `mirrored`) the dataset's shuffle state is the
    one `fast_forward` moved on, so epoch `epoch` is the next pass and only
    the first `step` batches of it are skipped. Across workers every `fit`
    trains on a rewritten copy of the dataset (auto-sharding), whose shuffle
    starts again at epoch 0: the copy then re-reads (does not train on) the
    batches of the epochs already done, so each epoch sees the order it had
    in the uninterrupted run.

    Args:
        ds: the training dataset (one pass).
        steps: its batches per pass when TensorFlow cannot count them.
        epoch, step: where training starts.
        rewritten: True when `fit` gets a rewritten copy (more than one worker).

    Example:

    >>> ds = tf.data.Dataset.range(8).batch(2)
    >>> stream, rest = resumed_stream(ds, None, 1, 1, rewritten=True)
    >>> rest, [int(b[0]) for b in stream.take(3)]
    (3, [2, 4, 6])
    """
    if not rewritten or not (epoch or step):
        return epoch_stream(ds.skip(step), steps and steps - step) if step else epoch_stream(ds, steps)
    stream, per_epoch = epoch_stream(ds, steps)
    if per_epoch is None:  # uncountable: the next pass, as in one process (the order may differ from the first run)
        return epoch_stream(ds.skip(step), None)
    return stream.skip(epoch * per_epoch + step), per_epoch - step


def distribute_dataset(ds, strategy):
    """The per-replica dataset a custom loop iterates (`strategy.experimental_distribute_dataset`).

    `model.fit` does this itself; give it the dataset, not this.

    Example:

    >>> batches = distribute_dataset(tf.data.Dataset.range(8).batch(4), tf.distribute.get_strategy())
    >>> [int(b.shape[0]) for b in batches]
    [4, 4]
    """
    return strategy.experimental_distribute_dataset(ds)
