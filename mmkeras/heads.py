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

    >>> mmkeras.register_head("poisson")(mmkeras.heads.Head(
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
register_head("regression")(Head(
    build=lambda x, spec, target: keras.layers.Dense(1, dtype="float32", name=spec.name)(x),
    loss=lambda spec: "mse",
    metrics=lambda spec: [keras.metrics.MeanAbsoluteError(name="mae")],
))
