"""Compiling with XLA (checked), and `fit`: the Keras fit every run goes through (`mmkeras.runs.train_model`)."""

import dataclasses
import time
import warnings

import keras

from mmkeras.fusion.late import add_aux_targets, aux_compile_entries
from mmkeras.jit import resolve_jit_compile, why_keras_refused
from mmkeras.tasks.outputs.heads import HEADS

OPTIMIZERS = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
              "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}


def optimizer_for(training):
    """A new Keras optimizer for a spec's `training` section (`optimizer`, `learning_rate`).

    Example:

    >>> spec.training.optimizer, type(optimizer_for(spec.training)).__name__
    ('adam', 'Adam')
    """
    return OPTIMIZERS[training.optimizer](learning_rate=training.learning_rate)


def compile_model(model, spec, *, jit_compile=None, **compile_args):
    """Compiles with the spec's optimizer and `jit_compile`; with outputs, their losses, `loss_weight`s and metrics.

    Each output's head gives its loss and metrics (late fusion adds its
    per-input outputs' losses). A spec with a `task` (retrieval) compiles
    only the optimizer: its model computes its own loss. `compile_args`
    replace or add `model.compile` arguments. `jit_compile` defaults to the
    spec's `training.jit_compile` (`auto`, true or false), resolved on this
    host by `mmkeras.jit.resolve_jit_compile`. Keras turns XLA off silently
    when a layer cannot be compiled; when XLA was asked for (`true`) this
    raises instead, since the model is meant to hold only XLA-friendly
    layers (with `auto`, Keras's choice stands and the run log says so).

    Example:

    >>> compile_model(model, spec).jit_compile
    True
    """
    t = spec.training
    if jit_compile is not None:
        t = dataclasses.replace(t, jit_compile=jit_compile)
    choice = resolve_jit_compile(t)
    if spec.outputs:
        aux_losses, aux_weights = aux_compile_entries(spec)  # late fusion's per-input outputs, if any
        compile_args = {
            "loss": {n: HEADS.get(o.type).loss(o) for n, o in spec.outputs.items()} | aux_losses,
            "metrics": {n: HEADS.get(o.type).metrics(o) for n, o in spec.outputs.items()},
            "loss_weights": {n: o.loss_weight for n, o in spec.outputs.items()} | aux_weights,
        } | compile_args
    model.compile(optimizer=optimizer_for(t), jit_compile=choice.enabled, **compile_args)
    if choice.setting is True and model.jit_compile is not True:
        raise RuntimeError(f"Keras turned XLA off for model {model.name!r}: {why_keras_refused()}. "
                           "Set training.jit_compile: false (or auto) to train without XLA.")
    return model


class EpochLog(keras.callbacks.Callback):
    """Prints one short line per epoch (instead of Keras' progress bar): time, losses, accuracies, MAEs.

    Args:
        print_fn: where the lines go.

    Example:

    >>> log = EpochLog()
    >>> log.on_epoch_end(0, {"loss": 0.5, "label_accuracy": 0.75, "lr": 0.001})  # doctest: +ELLIPSIS
      epoch 1 (... s): label_accuracy=0.7500, loss=0.5000
    """

    def __init__(self, print_fn=print):
        super().__init__()
        self.print_fn = print_fn
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted((logs or {}).items())
                          if "loss" in k or "accuracy" in k or k.endswith("mae"))
        self.print_fn(f"  epoch {epoch + 1} ({time.perf_counter() - self.started:.1f} s): {shown}")


def fit(model, spec, train_ds, val_ds=None, *, epochs=None, verbose=True, callbacks=(), initial_epoch=0,
        steps_per_epoch=None):
    """`model.fit` with the spec's epochs and a one-line-per-epoch log; returns the History.

    Late fusion's per-input outputs get their targets here (copies of their
    output's, see `mmkeras.fusion.late.add_aux_targets`), so a dataset from
    `make_dataset` fits any spec.

    Args:
        model: a compiled model from `build_model`.
        spec: its Spec (epochs, late fusion).
        train_ds: the training dataset (`make_dataset(..., training=True)`).
        val_ds: a validation dataset, or None.
        epochs: override `training.epochs`.
        verbose: print one line per epoch.
        callbacks: more Keras callbacks.
        initial_epoch: the epoch to start at (a resumed run's; `epochs` counts from 0).
        steps_per_epoch: batches per epoch (needed when `train_ds` repeats).

    Returns:
        The `keras.callbacks.History`.

    Example:

    >>> history = fit(model, spec, mmkeras.make_dataset(spec, splits["train"], pre, training=True), verbose=False)
    >>> "loss" in history.history, len(history.history["loss"]) == spec.training.epochs
    (True, True)
    """
    callbacks = list(callbacks) + ([EpochLog()] if verbose else [])
    train_ds, val_ds = add_aux_targets(spec, train_ds), add_aux_targets(spec, val_ds)  # late fusion aux outputs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return model.fit(train_ds, validation_data=val_ds, epochs=epochs or spec.training.epochs,
                         verbose=0, callbacks=callbacks, initial_epoch=initial_epoch,
                         steps_per_epoch=steps_per_epoch)
