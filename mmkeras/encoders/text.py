"""Text encoders (over padded token ids; id 0 is padding)."""

import keras

from mmkeras.encoders.registry import register_encoder
from mmkeras.layers import MaskedMeanPooling


@register_encoder("text", "bag_of_embeddings")
def bag_of_embeddings(x, spec, feature, *, embedding_dim=64):
    """Token embeddings averaged over the non-padding tokens (an empty text gives zeros)."""
    x = keras.layers.Embedding(feature.vocabulary_size, int(embedding_dim), mask_zero=True, name="embedding")(x)
    return MaskedMeanPooling(name="masked_mean")(x)


@register_encoder("text", "cnn")
def cnn(x, spec, feature, *, embedding_dim=64, filters=128, kernel_size=5):
    """Token embeddings, a ReLU Conv1D and global max pooling over time."""
    x = keras.layers.Embedding(feature.vocabulary_size, int(embedding_dim), name="embedding")(x)
    x = keras.layers.Conv1D(int(filters), int(kernel_size), padding="same", activation="relu", name="conv")(x)
    return keras.layers.GlobalMaxPooling1D(name="max_pool")(x)
