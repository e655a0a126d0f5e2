"""Numeric and categorical table columns, with Keras' Normalization and StringLookup."""

import keras
import numpy as np
import tensorflow as tf

from mmkeras.data.feature import Feature


class NumericFeature(Feature):
    """Preprocessing of a numeric column: float -> `[1]` standardised float32.

    Mean and variance come from the training split. A missing value (NaN,
    also at serving time) is imputed with the training mean, i.e. 0 after
    standardisation.
    """

    raw_dtype = tf.float32
    is_file = False

    def __init__(self, spec):
        self.spec = spec
        self.shape = (1,)
        self.dtype = "float32"
        self.mean, self.variance = 0.0, 1.0
        self.layer = self._make_layer()

    def _make_layer(self):
        layer = keras.layers.Normalization(axis=None, mean=self.mean, variance=self.variance,
                                           name=f"{self.spec.name}_normalization")
        layer(tf.zeros([1]))  # build eagerly, so its constants are not captured from a tf.data graph
        return layer

    def adapt(self, column_values, dataset=None):
        values = np.asarray(column_values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise ValueError(f"Input {self.spec.name!r} (column {self.spec.column!r}) has no numeric "
                             "value in the training split.")
        self.mean, self.variance = float(finite.mean()), float(max(finite.var(), 1e-12))
        self.layer = self._make_layer()
        return self

    def decode(self, data, context="", training=False):
        return data

    def transform(self, batch, training=False):
        batch = tf.cast(batch, tf.float32)
        batch = tf.where(tf.math.is_finite(batch), batch, tf.cast(self.mean, tf.float32))
        return tf.reshape(self.layer(batch), [-1, 1])

    def get_state(self):
        return {"mean": self.mean, "variance": self.variance}

    def set_state(self, state):
        self.mean, self.variance = float(state["mean"]), float(state["variance"])
        self.layer = self._make_layer()


class CategoricalFeature(Feature):
    """Preprocessing of a categorical column: string -> `[1]` int64 index.

    The vocabulary is the training split's values (most frequent first, at
    most `max_tokens`); index 0 is the out-of-vocabulary bucket that unseen
    and missing values fall into.
    """

    raw_dtype = tf.string
    is_file = False

    def __init__(self, spec):
        self.spec = spec
        self.shape = (1,)
        self.dtype = "int64"
        self.layer = None

    def _make_layer(self, vocabulary=None):
        layer = keras.layers.StringLookup(num_oov_indices=1, vocabulary=vocabulary,
                                          name=f"{self.spec.name}_lookup")
        layer(tf.constant([""]))  # build eagerly (see NumericFeature._make_layer)
        return layer

    @property
    def vocabulary_size(self):
        return self.layer.vocabulary_size()

    def adapt(self, column_values, dataset=None):
        values = np.asarray(column_values, dtype=object).astype(str)
        values = values[values != ""]
        uniques, counts = np.unique(values, return_counts=True)
        order = sorted(range(len(uniques)), key=lambda i: (-counts[i], uniques[i]))
        vocabulary = [str(uniques[i]) for i in order][: self.spec.max_tokens]
        if not vocabulary:
            raise ValueError(f"Input {self.spec.name!r} (column {self.spec.column!r}) has no value "
                             "in the training split.")
        self.layer = self._make_layer(vocabulary)
        return self

    def decode(self, data, context="", training=False):
        return data

    def transform(self, batch, training=False):
        return tf.reshape(self.layer(batch), [-1, 1])

    def get_state(self):
        return {"vocabulary": self.layer.get_vocabulary()[1:]}

    def set_state(self, state):
        self.layer = self._make_layer(list(state["vocabulary"]))
