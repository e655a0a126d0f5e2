"""Text inputs: strings -> padded token ids with Keras' `TextVectorization`."""

import keras
import numpy as np
import tensorflow as tf

from mmkeras.data import text_tokenize
from mmkeras.data.feature import Feature
from mmkeras.data.text_kerashub import KerasHubTextFeature
from mmkeras.errors import DataError

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

    >>> feature = TextFeature(spec.inputs["caption"]).adapt(["酒店很好", "房间太小"])
    >>> feature.transform(tf.constant(["很好"])).numpy()   # ids of 很 and 好, then padding
    array([[..., ..., 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    """

    raw_dtype = tf.string
    is_file = False

    def __new__(cls, spec=None):  # spec=None: copy and pickle make instances without arguments
        # A kerashub encoder brings its own tokenizer (the preset's): see `mmkeras.data.text_kerashub`.
        if cls is TextFeature and spec is not None and spec.encoder.type == "kerashub":
            return KerasHubTextFeature(spec)
        return super().__new__(cls)

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
            raise DataError(f"Input {self.spec.name!r} (column {self.spec.column!r}): the training texts "
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
