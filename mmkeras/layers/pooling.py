"""Masked mean pooling over a sequence."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mmkeras")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean over the time axis of `[batch, time, features]`, ignoring masked steps.

    Unlike `keras.layers.GlobalAveragePooling1D`, a sequence with no unmasked
    step (an empty text) gives zeros instead of NaN.

    Example:

    >>> x = keras.ops.ones([2, 3, 4])
    >>> mask = keras.ops.convert_to_tensor([[True, True, False], [False] * 3])
    >>> MaskedMeanPooling()(x, mask=mask)[:, 0].numpy()   # an all-masked row gives zeros
    array([1., 0.], dtype=float32)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.cast(ops.expand_dims(mask, -1), inputs.dtype)
        total = ops.sum(inputs * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
