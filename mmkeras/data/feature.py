"""The interface every per-input preprocessing class implements."""

import tensorflow as tf


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
    """

    raw_dtype = tf.string
    is_file = False
    shape = ()
    dtype = "float32"
    decoded_shape = None

    def __init__(self, spec):
        self.spec = spec

    def adapt(self, column_values, dataset=None):
        """Learns state from the training column (and a dataset of decoded examples for files)."""
        return self

    def read(self, path):
        """File inputs: a scalar path tensor -> the raw value `decode` takes (bytes)."""
        return tf.io.read_file(path)

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
