"""The fusion registry: how per-input vectors are joined."""

import inspect

from mmkeras.layers.fusion import ConcatFusion
from mmkeras.registry import Registry

FUSIONS = Registry("fusion")
FUSIONS.register("concat")(ConcatFusion)
_COMMON = ("hidden_units", "dropout")


def register_fusion(name, *, override=False):
    """Decorator registering a fusion layer class for `fusion: {type: name}`.

    The class is built as `cls(hidden_units=..., dropout=..., **options,
    name="fusion")` and called on the list of encoder outputs in input order.
    Extra keyword arguments of its `__init__` become allowed spec keys.

    Example:

    >>> @mmkeras.register_fusion("sum")
    ... class SumFusion(keras.layers.Layer):
    ...     def __init__(self, hidden_units=(), dropout=0.0, **kwargs):
    ...         super().__init__(**kwargs)
    ...     def call(self, inputs):
    ...         return keras.ops.sum(keras.ops.stack(inputs), axis=0)
    """
    return FUSIONS.register(name, override=override)


def fusion_options(name):
    """Spec keys a fusion accepts beyond type, hidden_units and dropout."""
    params = inspect.signature(FUSIONS.get(name).__init__).parameters.values()
    return [p.name for p in params
            if p.name not in ("self",) + _COMMON and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def build_fusion(spec):
    """The fusion layer for a FusionSpec."""
    cls = FUSIONS.get(spec.type)
    return cls(hidden_units=spec.hidden_units, dropout=spec.dropout, name="fusion", **dict(spec.options))
