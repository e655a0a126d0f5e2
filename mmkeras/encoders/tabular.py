"""Encoders for numeric and categorical columns."""

import keras

from mmkeras.encoders.registry import register_encoder


@register_encoder("numeric", "dense")
def dense(x, spec, feature, *, units=16):
    """One ReLU dense layer over the standardised value."""
    return keras.layers.Dense(int(units), activation="relu", name="dense")(x)


def embedding_size(vocabulary_size):
    """fast.ai's rule of thumb: min(50, round(1.6 * n ** 0.56))."""
    return int(min(50, round(1.6 * vocabulary_size ** 0.56)))


@register_encoder("categorical", "embedding")
def embedding(x, spec, feature, *, embedding_dim=None):
    """A learned embedding per category (size by `embedding_size` unless given)."""
    dim = int(embedding_dim or embedding_size(feature.vocabulary_size))
    x = keras.layers.Embedding(feature.vocabulary_size, dim, name="embedding")(x)
    return keras.layers.Flatten(name="flatten")(x)
