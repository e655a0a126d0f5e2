"""Fusion layers: join one vector per input into a single vector."""

import keras


@keras.saving.register_keras_serializable(package="mmkeras")
class ConcatFusion(keras.layers.Layer):
    """Concatenates the per-input vectors, then applies dense layers with dropout.

    Args:
        hidden_units: sizes of the ReLU dense layers after concatenation.
        dropout: dropout rate after each dense layer (training only).

    Example:

    >>> fusion = ConcatFusion(hidden_units=[8], dropout=0.1)
    >>> fusion({"a": keras.ops.ones([2, 3]), "b": keras.ops.ones([2, 5])}).shape
    (2, 8)
    """

    def __init__(self, hidden_units=(128,), dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = [int(u) for u in hidden_units]
        self.dropout = float(dropout)
        self.concat = keras.layers.Concatenate(axis=-1)
        self.dense = [keras.layers.Dense(u, activation="relu", name=f"dense_{i}")
                      for i, u in enumerate(self.hidden_units)]
        self.drop = [keras.layers.Dropout(self.dropout) for _ in self.hidden_units]

    def build(self, input_shape):
        shapes = list(input_shape.values()) if isinstance(input_shape, dict) else list(input_shape)
        width = sum(int(s[-1]) for s in shapes)
        for dense in self.dense:
            dense.build((None, width))
            width = dense.units

    def call(self, inputs, training=None):
        tensors = [inputs[k] for k in sorted(inputs)] if isinstance(inputs, dict) else list(inputs)
        x = self.concat(tensors) if len(tensors) > 1 else tensors[0]
        for dense, drop in zip(self.dense, self.drop):
            x = drop(dense(x), training=training)
        return x

    def compute_output_shape(self, input_shape):
        shapes = list(input_shape.values()) if isinstance(input_shape, dict) else list(input_shape)
        width = self.hidden_units[-1] if self.hidden_units else sum(int(s[-1]) for s in shapes)
        return (shapes[0][0], width)

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units, "dropout": self.dropout}
