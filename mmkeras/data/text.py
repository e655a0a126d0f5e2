"""Text inputs: strings -> padded token ids with Keras' `TextVectorization`."""

import keras
import numpy as np
import tensorflow as tf

from mmkeras.data.feature import Feature


class TextFeature(Feature):
    """Preprocessing of a text input: string -> `[sequence_length]` int64 token ids.

    The vocabulary (at most `max_tokens` entries, index 0 for padding and 1
    for out-of-vocabulary words) is adapted on the training split. Text is
    lower-cased, punctuation stripped and split on whitespace. An empty or
    missing text becomes all padding, which the encoders treat as "no words".
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
            output_sequence_length=self.spec.sequence_length,
            vocabulary=vocabulary,
            name=f"{self.spec.name}_vectorizer",
        )

    @property
    def vocabulary_size(self):
        return self.layer.vocabulary_size()

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
        return {"vocabulary": self.layer.get_vocabulary()[2:]}

    def set_state(self, state):
        self.layer = self._make_layer(vocabulary=list(state["vocabulary"]))
        self.layer(tf.constant([""]))
