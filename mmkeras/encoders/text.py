"""Text encoders (over padded token ids; id 0 is padding).

Each starts with a token embedding: learned, or initialised from the input's
pretrained word vectors (`embeddings:` in the spec, GloVe text format) and
frozen when `embeddings_trainable: false`.
"""

import keras

from mmkeras.data.text import read_word_vectors
from mmkeras.encoders.registry import register_encoder
from mmkeras.layers import MaskedMeanPooling, PositionEmbedding, TransformerBlock

DEFAULT_EMBEDDING_DIM = 64


def token_embedding(x, spec, feature, embedding_dim=None, *, mask_zero=True):
    """The `Embedding` layer of the text encoders, applied to token ids `x`.

    Args:
        x: `[batch, sequence_length]` token ids.
        spec: the `TextInputSpec` (`embeddings`, `embeddings_trainable`).
        feature: the adapted `TextFeature` (its vocabulary).
        embedding_dim: width; default 64, or the width of the word vectors file
            (giving another width together with a file is an error).
        mask_zero: pass a padding mask to the following layers.

    Returns:
        `[batch, sequence_length, embedding_dim]` embeddings.
    """
    vectors = None
    dim = int(embedding_dim or DEFAULT_EMBEDDING_DIM)
    if spec.embeddings:
        vectors, _ = read_word_vectors(spec.embeddings, feature.vocabulary)
        if embedding_dim and int(embedding_dim) != vectors.shape[1]:
            raise ValueError(f"Input {spec.name!r}: embedding_dim={embedding_dim} but the word vectors in "
                             f"{spec.embeddings} have {vectors.shape[1]} dimensions; leave embedding_dim out")
        dim = vectors.shape[1]
    layer = keras.layers.Embedding(feature.vocabulary_size, dim, mask_zero=mask_zero,
                                   weights=None if vectors is None else [vectors],
                                   trainable=spec.embeddings_trainable, name="embedding")
    return layer(x)


@register_encoder("text", "bag_of_embeddings")
def bag_of_embeddings(x, spec, feature, *, embedding_dim=None):
    """Token embeddings averaged over the non-padding tokens (an empty text gives zeros)."""
    x = token_embedding(x, spec, feature, embedding_dim)
    return MaskedMeanPooling(name="masked_mean")(x)


@register_encoder("text", "cnn")
def cnn(x, spec, feature, *, embedding_dim=None, filters=128, kernel_size=5):
    """Token embeddings, a ReLU Conv1D and global max pooling over time."""
    x = token_embedding(x, spec, feature, embedding_dim, mask_zero=False)
    x = keras.layers.Conv1D(int(filters), int(kernel_size), padding="same", activation="relu", name="conv")(x)
    return keras.layers.GlobalMaxPooling1D(name="max_pool")(x)


@register_encoder("text", "bilstm")
def bilstm(x, spec, feature, *, embedding_dim=None, units=64, dropout=0.0):
    """Token embeddings and a bidirectional LSTM over the non-padding tokens; returns both final states."""
    x = token_embedding(x, spec, feature, embedding_dim)
    # cuDNN kernels cannot be XLA-compiled (Keras would turn XLA off on a GPU): use the generic loop.
    lstm = keras.layers.LSTM(int(units), dropout=float(dropout), use_cudnn=False, name="lstm")
    return keras.layers.Bidirectional(lstm, name="bilstm")(x)


@register_encoder("text", "transformer")
def transformer(x, spec, feature, *, embedding_dim=None, num_layers=2, num_heads=2, intermediate_dim=128,
                dropout=0.1):
    """Token + position embeddings, `num_layers` Transformer encoder blocks, masked mean pooling."""
    x = token_embedding(x, spec, feature, embedding_dim)
    x = PositionEmbedding(spec.sequence_length, name="position_embedding")(x)
    if dropout:
        x = keras.layers.Dropout(float(dropout), name="embedding_dropout")(x)
    for i in range(int(num_layers)):
        x = TransformerBlock(int(num_heads), int(intermediate_dim), dropout=float(dropout), name=f"block_{i}")(x)
    return MaskedMeanPooling(name="masked_mean")(x)
