"""Pooling fusions: every input projected to a common width, then summed, averaged or weighted."""

import keras
from keras import ops

from mmkeras.fusion.base import ProjectedFusion, masked_softmax


@keras.saving.register_keras_serializable(package="mmkeras")
class SumFusion(ProjectedFusion):
    """Sum of the projected inputs: `v = Σ_i m_i · W_i x_i`, then the post-fusion MLP.

    Each input `x_i` has its own linear `Dense(projection_units)` `W_i`;
    missing inputs (`m_i = 0`) add nothing.

    Args:
        hidden_units: sizes of the ReLU dense layers after fusion.
        dropout: dropout rate after each dense layer (training only).
        projection_units: common width; None: the widest input's width.

    Example:

    >>> fusion = SumFusion(hidden_units=[], projection_units=4)
    >>> tuple(fusion([keras.ops.ones([2, 3]), keras.ops.ones([2, 5])]).shape)
    (2, 4)
    """

    def fused_width(self, widths):
        return self.units

    def weights_for(self, tensors, mask):
        return ops.cast(mask, "float32")

    def fuse(self, tensors, mask, training=None):
        weights = ops.cast(self.weights_for(tensors, mask), self.compute_dtype)
        projected = ops.stack(self.project(tensors, mask), axis=1)
        return ops.sum(projected * weights[:, :, None], axis=1)


@keras.saving.register_keras_serializable(package="mmkeras")
class MeanFusion(SumFusion):
    """Mean of the projected present inputs: `v = Σ_i m_i · W_i x_i / max(Σ_i m_i, 1)`.

    As `SumFusion`, divided by the number of present inputs (all missing:
    zeros).

    Example:

    >>> fusion = MeanFusion(hidden_units=[8], projection_units=4)
    >>> tuple(fusion([keras.ops.ones([2, 3]), keras.ops.ones([2, 5])]).shape)
    (2, 8)
    """

    def weights_for(self, tensors, mask):
        mask = ops.cast(mask, "float32")
        return mask / ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)


@keras.saving.register_keras_serializable(package="mmkeras")
class WeightedFusion(SumFusion):
    """Learned weighted sum: `v = Σ_i w_i · W_i x_i` with `w = softmax(l)` over the present inputs.

    One learned scalar logit `l_i` per input (`modality_logits`, initialised
    to 0: an equal weighting). With missing inputs the softmax runs over the
    present ones only. `modality_weights(inputs, presence)` returns the
    weights `[batch, n]`.

    Args:
        hidden_units: sizes of the ReLU dense layers after fusion.
        dropout: dropout rate after each dense layer (training only).
        projection_units: common width; None: the widest input's width.

    Example:

    >>> fusion = WeightedFusion(hidden_units=[8])
    >>> x = [keras.ops.ones([2, 3]), keras.ops.ones([2, 5])]
    >>> fusion.modality_weights(x).numpy()   # equal before training
    array([[0.5, 0.5], [0.5, 0.5]], dtype=float32)
    """

    def build_fusion(self, widths):
        super().build_fusion(widths)
        self.modality_logits = self.add_weight(name="modality_logits", shape=(len(widths),),
                                               initializer="zeros", trainable=True)

    def weights_for(self, tensors, mask):
        logits = ops.cast(self.modality_logits, "float32")[None, :] * ops.ones_like(ops.cast(mask, "float32"))
        return masked_softmax(logits, mask)
