"""Attention and gated fusions: learned, per-example weights for each input."""

import keras
from keras import ops

from mmkeras.fusion.base import ProjectedFusion, masked_softmax


@keras.saving.register_keras_serializable(package="mmkeras")
class AttentionFusion(ProjectedFusion):
    """Attention over inputs: `a = softmax(W·[v_1; …; v_n])`, fused = `[a_1·v_1; …; a_n·v_n]`.

    `v_i = W_i x_i` is input `i` projected (linear `Dense(projection_units)`);
    one `Dense(n)` (`scorer`) scores the concatenation, a softmax over the
    present inputs gives one weight `a_i` per input and example, and each
    projected input is scaled by its weight before the concatenation
    (width `n · projection_units`). Missing inputs are zero in the scorer's
    input and get weight 0. `modality_weights(inputs, presence)` returns `a`.

    Args:
        hidden_units: sizes of the ReLU dense layers after fusion.
        dropout: dropout rate after each dense layer (training only).
        projection_units: common width; None: the widest input's width.

    Example:

    >>> fusion = AttentionFusion(hidden_units=[8], projection_units=4)
    >>> x = [keras.ops.ones([2, 3]), keras.ops.ones([2, 5])]
    >>> tuple(fusion(x).shape)
    (2, 8)
    >>> tuple(fusion.modality_weights(x).shape)   # one weight per input, rows sum to 1
    (2, 2)
    """

    def build_fusion(self, widths):
        super().build_fusion(widths)
        self.scorer = keras.layers.Dense(len(widths), dtype=self.dtype_policy, name="scorer")
        self.scorer.build((None, len(widths) * self.units))

    def fused_width(self, widths):
        return len(widths) * self.units

    def _attend(self, tensors, mask):
        projected = self.project(tensors, mask)
        weights = masked_softmax(self.scorer(ops.concatenate(projected, axis=-1)), mask)
        return projected, weights

    def weights_for(self, tensors, mask):
        return self._attend(tensors, mask)[1]

    def fuse(self, tensors, mask, training=None):
        projected, weights = self._attend(tensors, mask)
        weights = ops.cast(weights, self.compute_dtype)
        return ops.concatenate([v * weights[:, i:i + 1] for i, v in enumerate(projected)], axis=-1)


@keras.saving.register_keras_serializable(package="mmkeras")
class GatedFusion(ProjectedFusion):
    """Gated multimodal unit (Arevalo et al., 2017): `v = Σ_i z_i ⊙ tanh(W_i x_i)`.

    Each input has a tanh projection `h_i = tanh(W_i x_i)` (width
    `projection_units`) and a sigmoid gate `z_i = σ(G_i [x_1; …; x_n])` of
    the same width computed from all inputs; the fused vector is the
    gate-weighted sum. With two inputs and `z_2 = 1 - z_1` this is the
    bimodal GMU; here every input has its own gate. A missing input is zero
    in the gates' input and its term is dropped.
    `modality_weights(inputs, presence)` returns each input's mean gate
    value `[batch, n]`.

    Args:
        hidden_units: sizes of the ReLU dense layers after fusion.
        dropout: dropout rate after each dense layer (training only).
        projection_units: width of `h_i` and `z_i`; None: the widest input's width.

    Example:

    >>> fusion = GatedFusion(hidden_units=[], projection_units=4)
    >>> tuple(fusion([keras.ops.ones([2, 3]), keras.ops.ones([2, 5])]).shape)
    (2, 4)
    """

    projection_activation = "tanh"

    def build_fusion(self, widths):
        super().build_fusion(widths)
        self.gates = []
        for i in range(len(widths)):
            gate = keras.layers.Dense(self.units, activation="sigmoid", dtype=self.dtype_policy, name=f"gate_{i}")
            gate.build((None, sum(widths)))
            self.gates.append(gate)

    def fused_width(self, widths):
        return self.units

    def _gate(self, tensors, mask):
        joined = ops.concatenate(self.zero_missing(tensors, mask), axis=-1)
        return [gate(joined) * mask[:, i:i + 1] for i, gate in enumerate(self.gates)]

    def weights_for(self, tensors, mask):
        return ops.cast(ops.stack([ops.mean(z, axis=-1) for z in self._gate(tensors, mask)], axis=1), "float32")

    def fuse(self, tensors, mask, training=None):
        hidden = self.project(tensors, mask)
        return sum(z * h for z, h in zip(self._gate(tensors, mask), hidden))
