"""The fusion registry: how per-input vectors are joined."""

import inspect

from mmkeras.fusion.base import ConcatFusion
from mmkeras.fusion.attention import AttentionFusion, GatedFusion
from mmkeras.fusion.pooling import MeanFusion, SumFusion, WeightedFusion
from mmkeras.fusion.transformer import TransformerFusion
from mmkeras.fusion.late import LateFusion
from mmkeras.registry import Registry

FUSIONS = Registry("fusion")
for _name, _cls in (("concat", ConcatFusion), ("sum", SumFusion), ("mean", MeanFusion),
                    ("weighted", WeightedFusion), ("attention", AttentionFusion), ("gated", GatedFusion),
                    ("transformer", TransformerFusion)):
    FUSIONS.register(_name)(_cls)
FUSIONS.register("late")(LateFusion)  # built by builders via mmkeras.fusion.late.late_outputs
_COMMON = ("hidden_units", "dropout")


def register_fusion(name, *, override=False):
    """Decorator registering a fusion layer class for `fusion: {type: name}`.

    The class is built as `cls(hidden_units=..., dropout=..., **options,
    name="fusion")` and called on the list of encoder outputs in input order
    (and, with missing inputs, `presence=`: one `[batch]` 0/1 tensor per
    input). Extra keyword arguments of its `__init__` become allowed spec
    keys. Subclassing `mmkeras.fusion.FusionLayer` gives the post-fusion
    MLP and presence handling; implement `fused_width` and `fuse` only.

    Example:

    >>> @mmkeras.register_fusion("product")
    ... class ProductFusion(mmkeras.fusion.FusionLayer):   # inputs of equal width
    ...     def fused_width(self, widths):
    ...         return widths[0]
    ...     def fuse(self, tensors, mask, training=None):
    ...         ones = [keras.ops.ones_like(t) for t in tensors]
    ...         kept = [keras.ops.where(mask[:, i:i + 1] > 0, t, o)
    ...                 for i, (t, o) in enumerate(zip(tensors, ones))]
    ...         return keras.ops.prod(keras.ops.stack(kept), axis=0)
    """
    return FUSIONS.register(name, override=override)


def fusion_options(name):
    """Spec keys a fusion accepts beyond type, hidden_units and dropout.

    Example:

    >>> fusion_options("late")
    ['combine', 'aux_loss_weight']
    """
    params = inspect.signature(FUSIONS.get(name).__init__).parameters.values()
    return [p.name for p in params
            if p.name not in ("self",) + _COMMON and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def build_fusion(spec):
    """The fusion layer for a FusionSpec.

    Example:

    >>> build_fusion(spec.fusion)
    <ConcatFusion name=fusion, built=False>
    """
    cls = FUSIONS.get(spec.type)
    return cls(hidden_units=spec.hidden_units, dropout=spec.dropout, name="fusion", **dict(spec.options))
