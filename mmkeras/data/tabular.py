"""Numeric and categorical table columns, with Keras' Normalization and StringLookup."""

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from mmkeras.data.feature import Feature
from mmkeras.data.paths import row_error
from mmkeras.errors import DataError


def frequent_values(values, *, min_frequency=1, max_tokens=None):
    """The vocabulary of `values`: most frequent first (ties by value), rare ones dropped.

    Args:
        values: strings; "" (missing) is never part of the vocabulary.
        min_frequency: values seen fewer times are left out.
        max_tokens: keep at most this many (None: all).

    Returns:
        A list of str.

    Example:

    >>> frequent_values(["b", "a", "a", "c", "b", "a"], min_frequency=2)
    ['a', 'b']
    """
    values = np.asarray(values, dtype=object).astype(str)
    values = values[values != ""]
    uniques, counts = np.unique(values, return_counts=True)
    order = sorted(range(len(uniques)), key=lambda i: (-counts[i], uniques[i]))
    return [str(uniques[i]) for i in order if counts[i] >= min_frequency][:max_tokens]


def training_vocabulary(spec, values):
    """`frequent_values` of a training column with the input's `min_frequency` and `max_tokens`.

    Raises:
        DataError: no value is frequent enough (naming the input and its column).

    Example:

    >>> training_vocabulary(spec.inputs["colour"], ["red", "blue", "red"])
    ['red', 'blue']
    """
    vocabulary = frequent_values(values, min_frequency=spec.min_frequency, max_tokens=spec.max_tokens)
    if not vocabulary:
        raise DataError(f"Input {spec.name!r} (column {spec.column!r}) has no value seen at least "
                        f"{spec.min_frequency} time(s) in the training split.")
    return vocabulary


def signed_log1p(x):
    """sign(x) * log(1 + |x|): log1p for x >= 0, odd-symmetric below (TF or numpy).

    Example:

    >>> signed_log1p(np.array([-1.0, 0.0, np.e - 1]))
    array([-0.69314718,  0.        ,  1.        ])
    """
    if isinstance(x, np.ndarray):
        return np.sign(x) * np.log1p(np.abs(x))
    return tf.sign(x) * tf.math.log1p(tf.abs(x))


class NumericFeature(Feature):
    """Preprocessing of a numeric column: float -> `[1]` float32 (`[2]` with a missing indicator).

    Per value, in order: a missing value (NaN or ±inf, also at serving time)
    is imputed (`impute`: the training mean or median, or `fill_value`);
    the value is clipped to `clip`; with `normalization: log1p` it becomes
    `sign(x) * log(1 + |x|)`; then a Keras `Normalization` layer scales it
    (`standard`: training mean and variance; `minmax`: `(x - min) / (max - min)`
    as `Normalization(mean=min, variance=(max - min)**2)`; `none`: as is).
    Statistics are taken from the clipped (and log1p-transformed) finite
    training values, so mean imputation gives exactly 0 after standardising.
    With `missing_indicator: true` a second column holds 1.0 for an imputed
    value and 0.0 otherwise.

    Attributes:
        fill: the imputed value (raw units).
        mean, variance: the `Normalization` layer's constants.

    Example:

    >>> f = NumericFeature(spec.inputs["reading"]).adapt(np.array([1.0, 3.0, np.nan]))
    >>> f.transform(tf.constant([np.nan, 3.0])).numpy()   # mean 2, std 1
    array([[0.], [1.]], dtype=float32)
    """

    raw_dtype = tf.float32
    is_file = False

    def __init__(self, spec):
        self.spec = spec
        self.shape = (2,) if spec.missing_indicator else (1,)
        self.dtype = "float32"
        self.fill, self.mean, self.variance = 0.0, 0.0, 1.0
        self.layer = self._make_layer()

    def _make_layer(self):
        if self.spec.normalization == "none":
            return None
        layer = keras.layers.Normalization(axis=None, mean=self.mean, variance=self.variance,
                                           name=f"{self.spec.name}_normalization")
        layer(tf.zeros([1]))  # build eagerly, so its constants are not captured from a tf.data graph
        return layer

    def resolve(self, column, *, root, table=""):
        """Column -> float32 numpy array (NaN kept); a non-number is a DataError naming the row."""
        column = pd.Series(column)
        numbers = pd.to_numeric(column, errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy() & column.notna().to_numpy())
        if bad.size:
            row = int(bad[0])
            raise row_error(row, table, self.spec.column, f"{column.iloc[row]!r} is not a number")
        return numbers.to_numpy(np.float32)

    def adapt(self, column_values, dataset=None):
        s = self.spec
        values = np.asarray(column_values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise DataError(f"Input {s.name!r} (column {s.column!r}) has no numeric "
                            "value in the training split.")
        if s.clip is not None:
            finite = np.clip(finite, s.clip[0], s.clip[1])
        if s.impute == "constant":
            self.fill = float(s.fill_value)
        else:
            self.fill = float(np.mean(finite) if s.impute == "mean" else np.median(finite))
        scaled = signed_log1p(finite) if s.normalization == "log1p" else finite
        if s.normalization == "minmax":
            low, high = float(scaled.min()), float(scaled.max())
            self.mean, self.variance = low, (high - low) ** 2
        else:
            self.mean, self.variance = float(scaled.mean()), float(scaled.var())
        if self.variance < 1e-12:  # a constant column: shift only, never divide by ~0
            self.variance = 1.0
        self.layer = self._make_layer()
        return self

    def decode(self, data, context="", training=False):
        return data

    def transform(self, batch, training=False):
        s = self.spec
        x = tf.reshape(tf.cast(batch, tf.float32), [-1])
        missing = tf.logical_not(tf.math.is_finite(x))
        x = tf.where(missing, tf.constant(self.fill, tf.float32), x)
        if s.clip is not None:
            x = tf.clip_by_value(x, float(s.clip[0]), float(s.clip[1]))
        if s.normalization == "log1p":
            x = signed_log1p(x)
        if self.layer is not None:
            x = self.layer(x)
        x = tf.reshape(x, [-1, 1])
        if s.missing_indicator:
            x = tf.concat([x, tf.cast(missing, tf.float32)[:, None]], axis=-1)
        return x

    def tracked_layers(self):
        return [self.layer] if self.layer is not None else []

    def get_state(self):
        return {"fill": self.fill, "mean": self.mean, "variance": self.variance}

    def set_state(self, state):
        self.mean, self.variance = float(state["mean"]), float(state["variance"])
        self.fill = float(state.get("fill", self.mean))  # states saved before `fill` existed
        self.layer = self._make_layer()


class CategoricalFeature(Feature):
    """Preprocessing of a categorical column: string -> `[1]` int64 index, or a one-hot vector.

    The vocabulary is the training split's values seen at least
    `min_frequency` times, most frequent first, at most `max_tokens`
    (Keras `StringLookup`). Index 0 is the out-of-vocabulary bucket that
    unseen, rare and missing values fall into. Integer categories read as
    floats (a column with NaN) are written without ".0" (`as_strings`), so
    `2`, `2.0` and `"2"` in a table are one category; at serving time send
    the string `"2"`. With `encoding: one_hot` the model input is a float32
    one-hot vector of size `vocabulary_size` instead of the index.

    Example:

    >>> f = CategoricalFeature(spec.inputs["colour"]).adapt(np.array(["red", "blue", "red"], object))
    >>> f.transform(tf.constant(["red", "green", "blue"])).numpy().ravel()   # green: unseen, index 0
    array([1, 0, 2])
    """

    raw_dtype = tf.string
    is_file = False

    def __init__(self, spec):
        self.spec = spec
        self.encoding = spec.encoding
        self.dtype = "int64" if self.encoding == "embedding" else "float32"
        self.layer = None

    @property
    def shape(self):
        return (1,) if self.encoding == "embedding" else (self.vocabulary_size,)

    def _make_layer(self, vocabulary):
        mode = "int" if self.encoding == "embedding" else "one_hot"
        layer = keras.layers.StringLookup(num_oov_indices=1, vocabulary=vocabulary, output_mode=mode,
                                          name=f"{self.spec.name}_lookup")
        layer(tf.constant([""]))  # build eagerly (see NumericFeature._make_layer)
        return layer

    @property
    def vocabulary_size(self):
        """Vocabulary size, the OOV index included."""
        if self.layer is None:
            raise ValueError(f"Input {self.spec.name!r}: the feature is not adapted yet.")
        return self.layer.vocabulary_size()

    def adapt(self, column_values, dataset=None):
        self.layer = self._make_layer(training_vocabulary(self.spec, column_values))
        return self

    def decode(self, data, context="", training=False):
        return data

    def transform(self, batch, training=False):
        batch = tf.reshape(batch, [-1])
        if self.encoding == "embedding":
            return tf.reshape(self.layer(batch), [-1, 1])
        return tf.cast(self.layer(batch), tf.float32)

    def get_state(self):
        return {"vocabulary": self.layer.get_vocabulary()[1:]}

    def set_state(self, state):
        self.layer = self._make_layer(list(state["vocabulary"]))
