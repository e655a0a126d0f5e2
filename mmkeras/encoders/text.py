"""Text encoders (over padded token ids; id 0 is padding).

Each starts with a token embedding: learned, or initialised from the input's
pretrained word vectors (`embeddings:` in the spec, GloVe text format) and
frozen when `embeddings_trainable: false`.
"""

import keras
import numpy as np

from mmkeras.encoders.registry import register_encoder
from mmkeras.errors import DataError, SpecError
from mmkeras.layers import MaskedMeanPooling, PositionEmbedding, TransformerBlock
from mmkeras.layers.recurrent import bidirectional

DEFAULT_EMBEDDING_DIM = 64


def read_word_vectors(path, vocabulary, *, seed=0):
    """Reads pretrained word vectors (GloVe text format) for a vocabulary.

    Each line of the file is a word followed by its numbers, separated by
    spaces (a word2vec-style first line "count dim" is skipped). Words of
    `vocabulary` missing from the file (matched exactly, else by the file's
    word lower-cased) get random normal vectors with the standard deviation
    of the vectors found; index 0 (padding) gets zeros.

    Args:
        path: the text file (UTF-8).
        vocabulary: list of tokens, index 0 the padding token.
        seed: seed of the random vectors.

    Returns:
        `(matrix, found)`: a float32 `[len(vocabulary), dim]` array and the
        number of vocabulary words found in the file.

    Raises:
        DataError: the file has no vectors, rows of different sizes, or no
            word of the vocabulary.

    Example:

    >>> path = os.path.join(tmp_dir, "vectors.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("good 0.1 0.2\\nRoom 0.3 0.4\\n")
    >>> matrix, found = mmkeras.encoders.text.read_word_vectors(path, ["", "[UNK]", "good", "room", "cat"])
    >>> matrix.shape, found
    ((5, 2), 2)
    """
    index = {word: i for i, word in enumerate(vocabulary) if i > 0}
    rows, lowered, dim = {}, {}, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            parts = line.rstrip("\n\r").rstrip(" ").split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            word = " ".join(parts[:-dim])
            if len(parts) - 1 < dim or not word:
                raise DataError(f"{path}, line {number}: expected a word and {dim} numbers, "
                               f"got {len(parts)} fields")
            if word in index:
                rows[index[word]] = parts[-dim:]
            elif word.lower() in index and word.lower() not in lowered:
                lowered[word.lower()] = parts[-dim:]
    if dim is None:
        raise DataError(f"{path}: no word vectors found (expected lines 'word 0.1 0.2 ...')")
    for word, values in lowered.items():
        rows.setdefault(index[word], values)
    if not rows:
        raise DataError(f"{path}: none of the {len(index)} vocabulary words is in the file "
                       f"(first ones: {list(index)[:5]}); is it for this language and tokenizer?")
    found = np.array(list(rows.values()), dtype=np.float32)
    scale = float(found.std()) or 0.05
    matrix = np.random.default_rng(seed).normal(0.0, scale, (len(vocabulary), dim)).astype(np.float32)
    matrix[list(rows)] = found
    matrix[0] = 0.0
    return matrix, len(rows)


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

    Example:

    >>> feature = pre.features["caption"]
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(token_embedding(x, spec.inputs["caption"], feature, 8).shape)
    (None, 12, 8)
    """
    vectors = None
    dim = int(embedding_dim or DEFAULT_EMBEDDING_DIM)
    if spec.embeddings:
        vectors, _ = read_word_vectors(spec.embeddings, feature.vocabulary)
        if embedding_dim and int(embedding_dim) != vectors.shape[1]:
            raise SpecError(f"Input {spec.name!r}: embedding_dim={embedding_dim} but the word vectors in "
                            f"{spec.embeddings} have {vectors.shape[1]} dimensions; leave embedding_dim out")
        dim = vectors.shape[1]
    layer = keras.layers.Embedding(feature.vocabulary_size, dim, mask_zero=mask_zero,
                                   weights=None if vectors is None else [vectors],
                                   trainable=spec.embeddings_trainable, name="embedding")
    return layer(x)


@register_encoder("text", "bag_of_embeddings")
def bag_of_embeddings(x, spec, feature, *, embedding_dim=None):
    """Token embeddings averaged over the non-padding tokens (an empty text gives zeros).

    Example:

    >>> feature = pre.features["caption"]
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(bag_of_embeddings(x, spec.inputs["caption"], feature, embedding_dim=8).shape)
    (None, 8)
    """
    x = token_embedding(x, spec, feature, embedding_dim)
    return MaskedMeanPooling(name="masked_mean")(x)


@register_encoder("text", "cnn")
def cnn(x, spec, feature, *, embedding_dim=None, filters=128, kernel_size=5):
    """Token embeddings, a ReLU Conv1D and global max pooling over time.

    Example:

    >>> feature = pre.features["caption"]
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(cnn(x, spec.inputs["caption"], feature, embedding_dim=4, filters=8, kernel_size=3).shape)
    (None, 8)
    """
    x = token_embedding(x, spec, feature, embedding_dim, mask_zero=False)
    x = keras.layers.Conv1D(int(filters), int(kernel_size), padding="same", activation="relu", name="conv")(x)
    return keras.layers.GlobalMaxPooling1D(name="max_pool")(x)


@register_encoder("text", "bilstm")
def bilstm(x, spec, feature, *, embedding_dim=None, units=64, dropout=0.0):
    """Token embeddings and a bidirectional LSTM over the non-padding tokens; returns both final states.

    Example:

    >>> feature = pre.features["caption"]
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(bilstm(x, spec.inputs["caption"], feature, embedding_dim=4, units=4).shape)
    (None, 8)
    """
    x = token_embedding(x, spec, feature, embedding_dim)
    # cuDNN kernels cannot be XLA-compiled (Keras would turn XLA off on a GPU): use the generic loop.
    lstm = keras.layers.LSTM(int(units), dropout=float(dropout), use_cudnn=False, name="lstm")
    return bidirectional(lstm, name="bilstm")(x)


@register_encoder("text", "transformer")
def transformer(x, spec, feature, *, embedding_dim=None, num_layers=2, num_heads=2, intermediate_dim=128,
                dropout=0.1):
    """Token + position embeddings, `num_layers` Transformer encoder blocks, masked mean pooling.

    Example:

    >>> feature = pre.features["caption"]
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(transformer(x, spec.inputs["caption"], feature, embedding_dim=8, num_layers=1, intermediate_dim=8).shape)
    (None, 8)
    """
    x = token_embedding(x, spec, feature, embedding_dim)
    x = PositionEmbedding(spec.sequence_length, name="position_embedding")(x)
    if dropout:
        x = keras.layers.Dropout(float(dropout), name="embedding_dropout")(x)
    for i in range(int(num_layers)):
        x = TransformerBlock(int(num_heads), int(intermediate_dim), dropout=float(dropout), name=f"block_{i}")(x)
    return MaskedMeanPooling(name="masked_mean")(x)
