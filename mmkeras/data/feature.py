"""The interface every per-input preprocessing class implements."""

import tensorflow as tf

from mmkeras.data.columns import as_strings
from mmkeras.data.paths import resolve_file_paths, row_error


class Feature:
    """Preprocessing of one input, adapted on the training split.

    Two stages, both TensorFlow ops so they run in `tf.data` and inside the
    exported SavedModel:

    * `decode(raw, context, training)` works on ONE example: the raw value
      (file bytes for file inputs, a string or a float otherwise) becomes a
      tensor of static shape `decoded_shape`. `context` is a string naming the
      row, column and file, to put into error messages.
    * `transform(batch, training)` works on a BATCH of decoded values and
      returns the model input, of shape `[batch] + shape` and dtype `dtype`.

    `training=True` only in the training pipeline: random crops and
    augmentation belong there and never in evaluation or the export.

    Attributes:
        raw_dtype: dtype of the raw serving input (`tf.string` or `tf.float32`).
        is_file: the table column holds file paths, read as bytes.
        shape, dtype: the model input per example.
        decoded_shape: per-example shape after `decode` (file inputs).

    Example:

    >>> feature = Feature(spec.inputs["caption"])   # the base class: values pass through unchanged
    >>> feature.resolve(pd.Series(["a cat", None]), root=data_dir), feature.transform(tf.constant(["x"])).numpy()
    (array(['a cat', ''], dtype=object), array([b'x'], dtype=object))
    """

    raw_dtype = tf.string
    is_file = False
    shape = ()
    dtype = "float32"
    decoded_shape = None
    # True when decode(..., training=True) draws random numbers (random crops,
    # random frame offsets): then the pipeline caches file bytes, not decoded examples.
    decode_is_random = False
    # True when transform(..., training=True) is random (augmentation, masking):
    # then the pipeline caches decoded examples and transforms every epoch.
    transform_is_random = False

    def __init__(self, spec):
        self.spec = spec

    def adapt(self, column_values, dataset=None):
        """Learns state from the training column (and a dataset of decoded examples for files)."""
        return self

    def resolve(self, column, *, root, table=""):
        """The table column -> the numpy array `tf.data` slices (Python side, once per table).

        File inputs: absolute paths, checked to exist (a `DataError` names row,
        column and path); other inputs: strings (`as_strings`). Features with
        other raw values (numbers, lists of frames) override this.
        """
        if self.is_file:
            return resolve_file_paths(column, root=root, table=table, column_name=self.spec.column,
                                      kind=self.spec.type)
        strings = as_strings(column)
        for row, text in enumerate(strings):
            if not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as e:
                    raise row_error(row, table, self.spec.column, f"not valid UTF-8 text ({e.reason} at "
                                                                  f"character {e.start})") from None
        return strings

    def describe(self, value):
        """How one resolved file value is named in error messages."""
        return f"file {value}"

    def read(self, path):
        """File inputs: a scalar path tensor -> the raw value `decode` takes (bytes); "" (missing) -> ""."""
        return tf.cond(tf.strings.length(path) > 0, lambda: tf.io.read_file(path), lambda: tf.constant(""))

    def decode(self, data, context="", training=False):
        return data

    def transform(self, batch, training=False):
        return batch

    def tracked_layers(self):
        """Keras layers / TF objects holding state (lookup tables...) the export must track."""
        layer = getattr(self, "layer", None)
        return [layer] if layer is not None else []

    def get_state(self):
        """JSON-ready adapted state."""
        return {}

    def set_state(self, state):
        pass
