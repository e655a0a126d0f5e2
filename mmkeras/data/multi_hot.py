"""Multi-hot columns: a cell holds several separated values (tags), e.g. "red, round, small"."""

import keras
import numpy as np
import tensorflow as tf

from mmkeras.data.feature import Feature
from mmkeras.data.tabular import training_vocabulary


def split_values(strings, separator):
    """`[batch]` strings -> ragged `[batch, None]` values, whitespace stripped, empty ones dropped.

    Example:

    >>> split_values(tf.constant(["a, b,,c", ""]), ",").to_list()
    [[b'a', b'b', b'c'], []]
    """
    values = tf.strings.strip(tf.strings.split(tf.reshape(strings, [-1]), sep=separator))
    return tf.ragged.boolean_mask(values, values != "")


class MultiHotFeature(Feature):
    """Preprocessing of a multi-value column: string -> `[vocabulary_size]` float32 multi-hot.

    A cell is split on `separator` and each value stripped of whitespace
    (TensorFlow ops, the same in training and serving). The vocabulary is
    the training split's values seen at least `min_frequency` times, most
    frequent first, at most `max_tokens`; Keras `StringLookup` with
    `output_mode="multi_hot"` gives 1.0 for each value present. Slot 0
    counts unseen (and rare) values; an empty cell gives zeros.

    Example:

    >>> tags = mmkeras.load_spec({"spec_version": 1, "name": "m", "inputs": {"tags": {"type": "multi_hot", "column": "t"}},
    ...                           "outputs": {"y": {"type": "binary", "column": "y"}}}).inputs["tags"]
    >>> f = MultiHotFeature(tags).adapt(np.array(["a,b", "b", "c, b"], object))
    >>> f.transform(tf.constant(["b, zebra"])).numpy()    # vocabulary [OOV, b, a, c]
    array([[1., 1., 0., 0.]], dtype=float32)
    """

    raw_dtype = tf.string
    is_file = False
    dtype = "float32"

    def __init__(self, spec):
        self.spec = spec
        self.layer = None

    @property
    def shape(self):
        return (self.vocabulary_size,)

    @property
    def vocabulary_size(self):
        """Length of the multi-hot vector, the OOV slot included."""
        if self.layer is None:
            raise ValueError(f"Input {self.spec.name!r}: the feature is not adapted yet.")
        return self.layer.vocabulary_size()

    def _make_layer(self, vocabulary):
        layer = keras.layers.StringLookup(num_oov_indices=1, vocabulary=vocabulary, output_mode="multi_hot",
                                          name=f"{self.spec.name}_lookup")
        layer(tf.ragged.constant([[""]]))  # build eagerly, outside any tf.data graph
        return layer

    def adapt(self, column_values, dataset=None):
        s = self.spec
        strings = tf.constant(np.asarray(column_values, dtype=object).astype(str), tf.string)
        values = split_values(strings, s.separator).flat_values.numpy().astype(object)
        values = np.array([v.decode("utf-8") for v in values], dtype=object)
        self.layer = self._make_layer(training_vocabulary(s, values))
        return self

    def transform(self, batch, training=False):
        return tf.cast(self.layer(split_values(batch, self.spec.separator)), tf.float32)

    def get_state(self):
        return {"vocabulary": self.layer.get_vocabulary()[1:]}

    def set_state(self, state):
        self.layer = self._make_layer(list(state["vocabulary"]))
