"""Compiling with XLA (checked), and the fit loop used by `mmkeras train`."""

import time
import warnings

import keras

from mmkeras.tasks.outputs.heads import HEADS

_OPTIMIZERS = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
               "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}


def compile_model(model, spec, *, jit_compile=None):
    """Compiles with the spec's optimizer, per-output losses, `loss_weight`s and metrics.

    `jit_compile` defaults to the spec's `training.jit_compile`. Keras turns
    XLA off silently when a layer cannot be compiled; this raises instead,
    since the model is meant to hold only XLA-friendly layers.

    Example:

    >>> compile_model(model, spec)
    >>> model.jit_compile
    True
    """
    t = spec.training
    jit = t.jit_compile if jit_compile is None else jit_compile
    from mmkeras.fusion.late import aux_compile_entries

    aux_losses, aux_weights = aux_compile_entries(spec)  # late fusion's per-input outputs, if any
    model.compile(
        optimizer=_OPTIMIZERS[t.optimizer](learning_rate=t.learning_rate),
        loss={n: HEADS.get(o.type).loss(o) for n, o in spec.outputs.items()} | aux_losses,
        metrics={n: HEADS.get(o.type).metrics(o) for n, o in spec.outputs.items()},
        loss_weights={n: o.loss_weight for n, o in spec.outputs.items()} | aux_weights,
        jit_compile=jit,
    )
    if jit and model.jit_compile is not True:
        raise RuntimeError(
            f"Keras turned XLA off for model {model.name!r}: a layer in it cannot be compiled "
            "(string lookups, text vectorization and random augmentation belong in the preprocessor). "
            "Set training.jit_compile: false to train without XLA.")
    return model


class EpochLog(keras.callbacks.Callback):
    """Prints one short line per epoch (instead of Keras' progress bar)."""

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


def fit(model, spec, train_ds, val_ds=None, *, epochs=None, verbose=True):
    """`model.fit` with the spec's epochs and a one-line-per-epoch log; returns the History."""
    callbacks = [EpochLog()] if verbose else []
    from mmkeras.fusion.late import add_aux_targets

    train_ds, val_ds = add_aux_targets(spec, train_ds), add_aux_targets(spec, val_ds)  # late fusion aux outputs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return model.fit(train_ds, validation_data=val_ds, epochs=epochs or spec.training.epochs,
                         verbose=0, callbacks=callbacks)
