"""Encoders for numeric, categorical, multi-hot and boolean columns."""

import keras

from mmkeras.encoders.registry import register_encoder


@register_encoder("numeric", "dense")
def dense(x, spec, feature, *, units=16):
    """One ReLU dense layer over the normalised value (and its missing indicator, if any).

    Example:

    >>> feature = pre.features["reading"]
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(dense(x, spec.inputs["reading"], feature, units=8).shape)
    (None, 8)
    """
    return keras.layers.Dense(int(units), activation="relu", name="dense")(x)


def embedding_size(vocabulary_size):
    """fast.ai's rule of thumb: min(50, round(1.6 * n ** 0.56)).

    Example:

    >>> embedding_size(10), embedding_size(100000)
    (6, 50)
    """
    return int(min(50, round(1.6 * vocabulary_size ** 0.56)))


@register_encoder("categorical", "embedding")
def embedding(x, spec, feature, *, embedding_dim=None):
    """A learned embedding per category (size by `embedding_size` unless given).

    With `encoding: one_hot` the input already is a one-hot vector: it is
    passed on unchanged (the fusion's dense layers then act as the embedding).

    Example:

    >>> feature = pre.features["colour"]
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(embedding(x, spec.inputs["colour"], feature, embedding_dim=8).shape)
    (None, 8)
    """
    if getattr(feature, "encoding", "embedding") == "one_hot":
        return keras.layers.Identity(name="one_hot")(x)
    dim = int(embedding_dim or embedding_size(feature.vocabulary_size))
    x = keras.layers.Embedding(feature.vocabulary_size, dim, name="embedding")(x)
    return keras.layers.Flatten(name="flatten")(x)


@register_encoder("multi_hot", "dense")
def multi_hot_dense(x, spec, feature, *, units=32):
    """One ReLU dense layer over the multi-hot vector (a sum of value embeddings, plus bias).

    Example:

    >>> tuple(multi_hot_dense(keras.Input((5,)), None, None, units=8).shape)
    (None, 8)
    """
    return keras.layers.Dense(int(units), activation="relu", name="dense")(x)


@register_encoder("boolean", "identity")
def identity(x, spec, feature):
    """The 0/1 value (and its missing indicator) as is.

    Example:

    >>> tuple(identity(keras.Input((2,)), None, None).shape)
    (None, 2)
    """
    return keras.layers.Identity(name="identity")(x)
