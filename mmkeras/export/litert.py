"""LiteRT (TFLite) export of the tensor-input model, checked in the TFLite interpreter (see `tensor_model`).

The model is written as a SavedModel through Keras' `ExportArchive` (so
its variables are tracked and frozen), then converted by TensorFlow's
`tf.lite.TFLiteConverter` with the built-in TFLite ops only: a model that
needs another op is refused with the op's name, not exported with a
dependency on the Flex delegate.
"""

import re
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from mmkeras.errors import ExportError
from mmkeras.export.tensor_model import compare, input_names, input_signature, keras_outputs, tensor_function

_OP_NAME = re.compile(r"'tf\.([A-Za-z0-9_]+)' op")


def convert_litert(model):
    """The model (tensor inputs) as LiteRT flatbuffer bytes, one signature `serving_default`.

    Raises:
        ExportError: an op has no TFLite built-in kernel (the message names it).

    Example:

    >>> data = convert_litert(model)
    >>> data[4:8]
    b'TFL3'
    """
    with tempfile.TemporaryDirectory() as folder:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", tensor_function(model), input_signature=input_signature(model))
        archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.experimental_enable_resource_variables = True
        try:
            return converter.convert()
        except Exception as e:  # ConverterError; its message lists the ops
            ops = sorted(set(_OP_NAME.findall(str(e))))
            if ops:
                raise ExportError(f"LiteRT has no built-in op for {', '.join(ops)} in model {model.name!r}: "
                                  "export the SavedModel or ONNX instead, or replace the layer that uses it") from e
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ExportError(f"the TFLite converter cannot convert model {model.name!r}: {first}") from e


def run_litert(data, batch, names):
    """{output: array} of LiteRT model bytes in the TFLite interpreter on a batch `{model input name: array}`.

    Example:

    >>> batch = next(iter(mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False)))
    >>> run_litert(convert_litert(model), batch, input_names(model))["label"].shape[1]
    8
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice (ai_edge_litert is its successor)
        interpreter = tf.lite.Interpreter(model_content=data)
    runner = interpreter.get_signature_runner("serving_default")
    return runner(**{name: np.asarray(batch[original]) for name, original in names.items()})


def export_litert(model, path, batch):
    """Converts the model to a `.tflite` file and checks it in the TFLite interpreter; returns the differences.

    Args:
        model: the Keras model.
        path: the `.tflite` file to write.
        batch: a batch of model inputs `{model input name: array}` to check with.

    Returns:
        {output: max |LiteRT - Keras|}.

    Example:

    >>> batch = next(iter(mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False)))
    >>> export_litert(model, os.path.join(tmp_dir, "m.tflite"), batch)["label"] <= 1e-5
    True
    """
    expected = keras_outputs(model, batch)
    data = convert_litert(model)
    differences = compare(expected, run_litert(data, batch, input_names(model)), what="LiteRT model")
    with open(path, "wb") as f:
        f.write(data)
    return differences
