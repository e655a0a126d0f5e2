"""Boolean columns: true/false, yes/no, 1/0 (any case) or real booleans; missing allowed."""

import tensorflow as tf

from mmkeras.data.feature import Feature
from mmkeras.data.paths import row_error
from mmkeras.data.columns import as_strings

TRUE = ("true", "t", "yes", "y", "1")
FALSE = ("false", "f", "no", "n", "0")


def _in(strings, words):
    return tf.reduce_any(tf.equal(strings[:, None], tf.constant(words)[None, :]), axis=1)


class BooleanFeature(Feature):
    """Preprocessing of a boolean column: string -> `[2]` float32 (value, is_missing).

    Case-insensitive, whitespace-stripped `true/t/yes/y/1` give 1.0 and
    `false/f/no/n/0` give 0.0; a boolean column (`True`/`False`) or a 0/1
    column reads the same. An empty cell (NaN) is missing: its value is
    `fill_value` (0.0) and, with `missing_indicator: true` (the default),
    the second column is 1.0. Any other text is an error naming the row in
    a table, and counts as missing at serving time. Without the indicator
    the model input is `[1]`. Nothing is adapted.

    Example:

    >>> ok = mmkeras.load_spec({"spec_version": 1, "name": "b", "inputs": {"ok": {"type": "boolean", "column": "ok"}},
    ...                         "outputs": {"y": {"type": "binary", "column": "y"}}}).inputs["ok"]
    >>> BooleanFeature(ok).transform(tf.constant(["Yes", "0", ""])).numpy()
    array([[1., 0.], [0., 0.], [0., 1.]], dtype=float32)
    """

    raw_dtype = tf.string
    is_file = False
    dtype = "float32"

    def __init__(self, spec):
        self.spec = spec
        self.shape = (2,) if spec.missing_indicator else (1,)

    def resolve(self, column, *, root, table=""):
        """Column -> strings; a value that is not a boolean is a DataError naming the row."""
        values = as_strings(column)
        known = set(TRUE + FALSE + ("",))
        for row, value in enumerate(values):
            if value.strip().lower() not in known:
                raise row_error(row, table, self.spec.column,
                                f"{value!r} is not a boolean (true/false, yes/no, 1/0, t/f, y/n)")
        return values

    def transform(self, batch, training=False):
        strings = tf.strings.lower(tf.strings.strip(tf.reshape(batch, [-1])))
        true = _in(strings, TRUE)
        missing = tf.logical_not(tf.logical_or(true, _in(strings, FALSE)))
        value = tf.where(missing, tf.constant(self.spec.fill_value, tf.float32), tf.cast(true, tf.float32))
        columns = [value, tf.cast(missing, tf.float32)] if self.spec.missing_indicator else [value]
        return tf.stack(columns, axis=-1)
