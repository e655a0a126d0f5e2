"""`model.fit` under any strategy, `MultiWorkerMirroredStrategy` included (a workaround for keras-team/keras#20585).

Keras 3's `fit` fails under `MultiWorkerMirroredStrategy` (keras#20585,
tensorflow#72388; reproduced with Keras 3.15.1 / TF 2.21) at two places in
`keras/src/backend/tensorflow/trainer.py`:

1. `_maybe_symbolic_build` reduces the first distributed batch with
   `strategy.reduce("MEAN", batch)`; the collective reduce takes one tensor,
   not a dict of them ("Attempt to convert a value ({'x': PerReplica...})").
   The build it feeds is only needed when the model is first built inside
   `fit`; Keras skips it when the model records no strategy.
2. `reduce_per_replica` reduces each step's logs across workers with
   `strategy.reduce("MEAN", v, axis=0)`, and the logs are scalars ("Invalid
   reduction dimension 0 for input with 0 dimensions").

`fit_scope` works around both for the time of one `fit`: it makes the
model's, metrics' and optimizer's variables itself, in the strategy's
scope, from the training dataset's `element_spec` (what Keras' build does
with the reduced batch, without drawing a batch), the model forgets its
strategy (so 1. is skipped; `fit` then finds the strategy from the scope
it runs in, which `fit_scope` enters) and, under multi-worker, the logs are
averaged over replicas with `axis=None`. Everything else is Keras' own
`fit`: gradients are all-reduced by the optimizer, callbacks, validation,
`BackupAndRestore` and early stopping work as usual. The tests check the
result against a single process: the same weights, step for step.

Skipping 1. has a second use under every strategy: the symbolic build draws
one extra iterator of the training data, which moves a reshuffling
dataset's epochs on by one; without it, the epochs see the same orders
under every strategy (and on resume, see `fast_forward`).
"""

import contextlib

import tensorflow as tf
from keras.src.backend.tensorflow import trainer as keras_tf_trainer  # the module keras#20585 is about


MIRRORED = (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)


def _multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _scalar_safe_reduce(original):
    def reduce_per_replica(values, strategy, reduction):
        if _multi_worker(strategy) and reduction in ("auto", "mean"):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    return reduce_per_replica


@contextlib.contextmanager
def fit_scope(model, strategy, train_ds):
    """The block a compiled model's `fit` runs in under `strategy` (see the module docstring).

    Args:
        model: a model built and compiled in `strategy.scope()`.
        strategy: its `tf.distribute.Strategy`; other than (multi-worker) mirrored, nothing changes.
        train_ds: the dataset `fit` gets (only its `element_spec` is read).

    Example:

    >>> strategy = tf.distribute.get_strategy()
    >>> train_ds = mmkeras.make_dataset(spec, splits["train"], pre, training=True)
    >>> with fit_scope(model, strategy, train_ds):
    ...     history = model.fit(train_ds, verbose=0)
    >>> len(history.epoch)
    1
    """
    if not isinstance(strategy, MIRRORED):  # the default strategy, TPUStrategy: Keras' fit as it is
        yield
        return
    saved, original = model._distribute_strategy, keras_tf_trainer.reduce_per_replica
    with strategy.scope():  # the skipped build, from the dataset's structure: no batch is drawn
        model._symbolic_build(data_batch=train_ds.element_spec)
    model._distribute_strategy = None  # 1.: no eager symbolic build; fit reads the strategy from the scope
    if _multi_worker(strategy):
        keras_tf_trainer.reduce_per_replica = _scalar_safe_reduce(original)  # 2.
    try:
        with strategy.scope():
            yield
    finally:
        model._distribute_strategy = saved
        keras_tf_trainer.reduce_per_replica = original


def local_copy(model, build):
    """A model outside any strategy with the weights and optimizer state of `model` (trained under one).

    Evaluation, export and saving then run in this process alone, with no
    collective op that would wait for the other workers.

    Args:
        model: the trained (distributed) model.
        build: makes the same model, compiled, outside any strategy scope.

    Example:

    >>> copy = local_copy(model, lambda: mmkeras.build_model(spec, pre))
    >>> all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), model.get_weights()))
    True
    """
    copy = build()
    copy.set_weights(model.get_weights())
    if model.optimizer is not None and model.optimizer.built and copy.optimizer is not None:
        copy.optimizer.build(copy.trainable_variables)
        for target, value in zip(copy.optimizer.variables, model.optimizer.variables):
            target.assign(value.numpy())
    return copy
