"""Text inputs: strings -> padded token ids with Keras' `TextVectorization`."""

import keras
import numpy as np
import tensorflow as tf

from mmkeras.data import text_tokenize
from mmkeras.data.feature import Feature

# The options that decide how text becomes tokens; kept in the saved state.
TOKEN_OPTIONS = ("standardize", "tokenizer", "ngrams")


class TextFeature(Feature):
    """Preprocessing of a text input: string -> `[sequence_length]` int64 token ids.

    Text is standardised (`standardize`: by default Unicode lower-casing and
    punctuation stripping), split into tokens (`tokenizer`: by default
    Chinese, Japanese and Korean characters become one token each while
    other words are split on whitespace, see `mmkeras.data.text_tokenize`),
    optionally extended with n-grams (`ngrams`), and looked up in a
    vocabulary of at most `max_tokens` entries (index 0 for padding, 1 for
    out-of-vocabulary tokens) adapted on the training split. The standardise
    and split steps are TensorFlow ops, so the exported SavedModel runs them
    too. An empty or missing text becomes all padding, which the encoders
    treat as "no words".

    Args:
        spec: a `TextInputSpec`.

    Example:

    >>> feature = TextFeature(spec.inputs["review"]).adapt(["酒店很好", "房间太小"])
    >>> feature.transform(tf.constant(["很好"]))   # ids of 很 and 好, then padding
    """

    raw_dtype = tf.string
    is_file = False

    def __init__(self, spec):
        self.spec = spec
        self.shape = (spec.sequence_length,)
        self.dtype = "int64"
        self.layer = None

    def _make_layer(self, vocabulary=None):
        return keras.layers.TextVectorization(
            max_tokens=self.spec.max_tokens,
            standardize=text_tokenize.standardizer(self.spec.standardize),
            split=text_tokenize.splitter(self.spec.tokenizer),
            ngrams=self.spec.ngrams,
            output_sequence_length=self.spec.sequence_length,
            vocabulary=vocabulary,
            name=f"{self.spec.name}_vectorizer",
        )

    @property
    def vocabulary_size(self):
        return self.layer.vocabulary_size()

    @property
    def vocabulary(self):
        """The vocabulary, index 0 the padding token `""` and 1 `"[UNK]"`."""
        return [str(w) for w in self.layer.get_vocabulary()]

    def adapt(self, column_values, dataset=None):
        values = np.asarray(column_values, dtype=object)
        self.layer = self._make_layer()
        self.layer.adapt(tf.constant(values.astype(str), tf.string), batch_size=1024)
        if self.layer.vocabulary_size() <= 2:
            raise ValueError(f"Input {self.spec.name!r} (column {self.spec.column!r}): the training texts "
                             "gave an empty vocabulary; are they all empty?")
        self.layer(tf.constant([""]))  # build eagerly, not inside a tf.data graph
        return self

    def decode(self, data, context="", training=False):
        return data

    def transform(self, batch, training=False):
        # TextVectorization loses the static batch size; keep it for XLA.
        return tf.ensure_shape(self.layer(batch), batch.shape.concatenate(self.shape))

    def get_state(self):
        # Index 0 ('') and 1 ('[UNK]') are implied by TextVectorization.
        return {"vocabulary": [str(w) for w in self.layer.get_vocabulary()[2:]],
                **{k: getattr(self.spec, k) for k in TOKEN_OPTIONS}}

    def set_state(self, state):
        for key in TOKEN_OPTIONS:
            if key in state and state[key] != getattr(self.spec, key):
                raise ValueError(f"Input {self.spec.name!r}: the saved vocabulary was made with {key}="
                                 f"{state[key]!r} but the spec has {key}={getattr(self.spec, key)!r}")
        self.layer = self._make_layer(vocabulary=list(state["vocabulary"]))
        self.layer(tf.constant([""]))


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
        ValueError: the file has no vectors, rows of different sizes, or no
            word of the vocabulary.

    Example:

    >>> matrix, found = read_word_vectors("glove.6B.50d.txt", feature.vocabulary)
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
                raise ValueError(f"{path}, line {number}: expected a word and {dim} numbers, "
                                 f"got {len(parts)} fields")
            if word in index:
                rows[index[word]] = parts[-dim:]
            elif word.lower() in index and word.lower() not in lowered:
                lowered[word.lower()] = parts[-dim:]
    if dim is None:
        raise ValueError(f"{path}: no word vectors found (expected lines 'word 0.1 0.2 ...')")
    for word, values in lowered.items():
        rows.setdefault(index[word], values)
    if not rows:
        raise ValueError(f"{path}: none of the {len(index)} vocabulary words is in the file "
                         f"(first ones: {list(index)[:5]}); is it for this language and tokenizer?")
    found = np.array(list(rows.values()), dtype=np.float32)
    scale = float(found.std()) or 0.05
    matrix = np.random.default_rng(seed).normal(0.0, scale, (len(vocabulary), dim)).astype(np.float32)
    matrix[list(rows)] = found
    matrix[0] = 0.0
    return matrix, len(rows)
