"""Output heads: the final layer per output, with its loss and metrics."""

import dataclasses
from typing import Callable

import keras

from mmkeras.registry import Registry


@dataclasses.dataclass(frozen=True)
class Head:
    """How an output type is predicted and trained.

    `build(x, spec, target)` returns the output tensor (named after the
    output; float32 even under mixed precision); `loss` and `metrics` are
    what `compile` gets for it.
    """

    build: Callable
    loss: Callable
    metrics: Callable


HEADS = Registry("head")


def register_head(name, *, override=False):
    """Registers a `Head` under an output `type` name.

    Example:

    >>> mmkeras.register_head("poisson")(mmkeras.tasks.outputs.heads.Head(
    ...     build=lambda x, spec, target: keras.layers.Dense(1, activation="exponential", name=spec.name)(x),
    ...     loss=lambda spec: "poisson", metrics=lambda spec: ["mae"]))
    """
    return HEADS.register(name, override=override)


register_head("classification")(Head(
    build=lambda x, spec, target: keras.layers.Dense(target.num_classes, activation="softmax", dtype="float32", name=spec.name)(x),
    loss=lambda spec: "sparse_categorical_crossentropy",
    metrics=lambda spec: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
))
register_head("binary")(Head(
    build=lambda x, spec, target: keras.layers.Dense(1, activation="sigmoid", dtype="float32", name=spec.name)(x),
    loss=lambda spec: "binary_crossentropy",
    metrics=lambda spec: [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
))
@keras.saving.register_keras_serializable(package="mmkeras")
class MultiLabelCrossentropy(keras.losses.Loss):
    """Binary crossentropy kept per label: `[batch, labels]` losses, averaged over every entry.

    Without weights this equals `binary_crossentropy`; with per-entry sample
    weights `[batch, labels]` (from `class_weight: balanced`) each label's
    positives and negatives are weighted apart, which Keras' built-in loss
    (averaged over labels before weighting) cannot do.

    Example:

    >>> loss = MultiLabelCrossentropy()
    >>> float(loss(np.float32([[1, 0]]), np.float32([[0.9, 0.2]])))  # (-log .9 - log .8) / 2
    0.164252...
    """

    def __init__(self, name="multilabel_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_pred = keras.ops.convert_to_tensor(y_pred)
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        return keras.ops.binary_crossentropy(y_true, y_pred)


register_head("multilabel")(Head(
    build=lambda x, spec, target: keras.layers.Dense(target.num_classes, activation="sigmoid", dtype="float32", name=spec.name)(x),
    loss=lambda spec: MultiLabelCrossentropy(),
    metrics=lambda spec: [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
))
register_head("regression")(Head(
    build=lambda x, spec, target: keras.layers.Dense(1, dtype="float32", name=spec.name)(x),
    loss=lambda spec: "mse",
    metrics=lambda spec: [keras.metrics.MeanAbsoluteError(name="mae")],
))
