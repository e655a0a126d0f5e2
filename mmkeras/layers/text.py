"""Layers for sequence encoders: learned position embeddings and a Transformer encoder block.

Keras 3 ships `MultiHeadAttention` but no encoder block or position
embedding (those live in KerasHub, which mmkeras does not depend on); these
two follow KerasHub's `PositionEmbedding` and `TransformerEncoder`.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mmkeras")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position to a `[batch, time, features]` sequence.

    The Keras mask of the input (padding) is passed on unchanged.

    Args:
        sequence_length: the largest number of time steps.
        initializer: initializer of the `[sequence_length, features]` table.

    Example:

    >>> layer = PositionEmbedding(sequence_length=8)
    >>> tuple(layer(keras.ops.zeros([2, 5, 4])).shape)   # rows 0..4 of the table, per example
    (2, 5, 4)
    """

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = int(sequence_length)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            name="embeddings", shape=(self.sequence_length, int(input_shape[-1])),
            initializer=self.initializer, trainable=True)

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        positions = ops.cast(self.position_embeddings[:length], inputs.dtype)
        return inputs + positions[None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable(package="mmkeras")
class TransformerBlock(keras.layers.Layer):
    """One Transformer encoder block: self-attention and a feed-forward network.

    Post-norm by default, as BERT and KerasHub's `TransformerEncoder`:
    `x = norm(x + dropout(attention(x)))`, then
    `x = norm(x + dropout(dense(gelu(dense(x)))))`; with `norm_first=True`
    pre-norm: `x = x + dropout(attention(norm(x)))`, then
    `x = x + dropout(dense(gelu(dense(norm(x)))))`. Padding steps (the
    input's Keras mask) are never attended to, and the mask is passed on.

    Args:
        num_heads: attention heads; each has `features // num_heads` dimensions.
        intermediate_dim: width of the feed-forward hidden layer.
        dropout: dropout rate on the attention weights and after each sub-block (training only).
        epsilon: layer normalisation epsilon.
        norm_first: pre-norm instead of post-norm.

    Example:

    >>> block = TransformerBlock(num_heads=2, intermediate_dim=16)
    >>> x = keras.ops.ones([2, 5, 8])
    >>> mask = keras.ops.convert_to_tensor([[True] * 5, [True, True, False, False, False]])
    >>> tuple(block(x, mask=mask).shape)
    (2, 5, 8)
    """

    def __init__(self, num_heads, intermediate_dim, dropout=0.0, epsilon=1e-5, norm_first=False, **kwargs):
        super().__init__(**kwargs)
        self.norm_first = bool(norm_first)
        self.num_heads = int(num_heads)
        self.intermediate_dim = int(intermediate_dim)
        self.dropout = float(dropout)
        self.epsilon = float(epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        width = int(input_shape[-1])
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, max(1, width // self.num_heads), dropout=self.dropout,
            dtype=self.dtype_policy, name="attention")
        self.attention.build(input_shape, input_shape)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=self.epsilon, dtype=self.dtype_policy,
                                                              name="attention_norm")
        self.attention_norm.build(input_shape)
        self.hidden = keras.layers.Dense(self.intermediate_dim, activation="gelu", dtype=self.dtype_policy,
                                         name="hidden")
        self.hidden.build(input_shape)
        self.projection = keras.layers.Dense(width, dtype=self.dtype_policy, name="projection")
        self.projection.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.output_norm = keras.layers.LayerNormalization(epsilon=self.epsilon, dtype=self.dtype_policy,
                                                           name="output_norm")
        self.output_norm.build(input_shape)
        self.drop = keras.layers.Dropout(self.dropout)

    def call(self, inputs, mask=None, training=None):
        if self.norm_first:  # pre-norm: x + f(norm(x)); steadier at high learning rates
            normed = self.attention_norm(inputs)
            x = inputs + self.drop(self.attention(normed, normed, value_mask=mask, training=training),
                                   training=training)
            return x + self.drop(self.projection(self.hidden(self.output_norm(x))), training=training)
        attended = self.attention(inputs, inputs, value_mask=mask, training=training)
        x = self.attention_norm(inputs + self.drop(attended, training=training))
        feed = self.projection(self.hidden(x))
        return self.output_norm(x + self.drop(feed, training=training))

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout, "epsilon": self.epsilon, "norm_first": self.norm_first}
