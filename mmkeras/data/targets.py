"""Output targets: the target encoder of each output, found by the kind its head names, and balanced weights.

Each output type (`mmkeras.tasks.outputs.HEADS`) names the kind of target
it uses (`Head.target`): "class", "binary", "multi_hot", "standardized" or
"numeric" (`TARGETS`; `register_target` adds one). The encoders themselves
are in `mmkeras.data.target_encoders`.
"""

import numpy as np

from mmkeras.data.target_encoders import (BinaryTarget, ClassTarget, MultiLabelTarget, NumericTarget,
                                          RegressionTarget, Target, balanced_weights)
from mmkeras.registry import Registry
from mmkeras.tasks.outputs.heads import HEADS

__all__ = ["TARGETS", "register_target", "make_target", "sample_weights", "Target", "ClassTarget",
           "BinaryTarget", "MultiLabelTarget", "NumericTarget", "RegressionTarget", "balanced_weights"]

TARGETS = Registry("target")
TARGETS.register("class")(ClassTarget)
TARGETS.register("binary")(BinaryTarget)
TARGETS.register("multi_hot")(MultiLabelTarget)
TARGETS.register("standardized")(RegressionTarget)
TARGETS.register("numeric")(NumericTarget)


def register_target(kind, *, override=False):
    """Registers a `Target` subclass under a kind name a `Head(target=...)` can use.

    Example:

    >>> class LogTarget(NumericTarget):
    ...     def encode(self, column_values, table=""):
    ...         return np.log1p(self.values(column_values, table))
    >>> with TARGETS.temporarily("log", None):  # only for this example: undone at the end of the block
    ...     registered = register_target("log", override=True)(LogTarget)
    >>> registered is LogTarget, "log" in TARGETS
    (True, False)
    """
    return TARGETS.register(kind, override=override)


def make_target(spec):
    """The target encoder of an output spec: the kind its head (`HEADS[spec.type].target`) names.

    Example:

    >>> make_target(spec.outputs["label"]).adapt(splits["train"]["label"]).num_classes
    8
    """
    return TARGETS.get(HEADS.get(spec.type).target)(spec)


def sample_weights(spec, targets, encoded):
    """`{output: weights}` for `class_weight: balanced`, or `{}` when no output asks for it.

    Outputs without balanced weights get ones. Classification and binary
    weights are `[n]`; multilabel ones `[n, labels]` (per entry; the
    multilabel loss keeps entries apart so they apply per label), or
    `[n, 1]` ones.

    Args:
        spec: the Spec.
        targets: `{output: adapted target}` (the preprocessor's).
        encoded: `{output: encoded targets}`.

    Example:

    >>> sample_weights(spec, pre.targets, {"label": pre.targets["label"].encode(splits["test"]["label"])})
    {}
    """
    if not any(o.class_weight == "balanced" for o in spec.outputs.values()):
        return {}
    weights = {}
    for name, out in spec.outputs.items():
        y = encoded[name]
        if out.class_weight == "balanced":
            weights[name] = targets[name].sample_weights(y)
        else:  # [n] for [n] losses; [n, 1] for multilabel (a [n] weight would broadcast along labels)
            weights[name] = np.ones([len(y)] + [1] * (np.ndim(y) - 1), np.float32)
    return weights
