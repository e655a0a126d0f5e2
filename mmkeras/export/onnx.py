"""ONNX export of the tensor-input model with tf2onnx, checked in onnxruntime (see `tensor_model`).

`tf2onnx` and `onnxruntime` are optional dependencies (the `onnx` extra,
also in `test`): they are imported when an ONNX export is made.
"""

import numpy as np
import tensorflow as tf

from mmkeras.errors import ExportError
from mmkeras.export.tensor_model import compare, input_names, input_signature, keras_outputs, tensor_function

OPSET = 17


def _import_onnx():
    try:
        import onnx  # deferred: optional dependency, only for ONNX exports
        import onnxruntime  # deferred: optional dependency, only for ONNX exports
        import tf2onnx  # deferred: optional dependency, only for ONNX exports
    except ImportError as e:
        raise ExportError(f"ONNX export needs tf2onnx and onnxruntime ({e}); "
                          'install them with: pip install "mmkeras[onnx]"') from None
    return onnx, onnxruntime, tf2onnx


def unsupported_ops(proto):
    """Names of the graph's ops that are not standard ONNX ops (what tf2onnx left as TensorFlow ops).

    Example:

    >>> import onnx
    >>> graph = onnx.helper.make_graph([onnx.helper.make_node("Igamma", ["a", "x"], ["y"])], "g", [], [])
    >>> unsupported_ops(onnx.helper.make_model(graph))
    ['Igamma']
    """
    onnx, _, _ = _import_onnx()
    return sorted({n.op_type for n in proto.graph.node
                   if not onnx.defs.has(n.op_type, n.domain or "") and n.domain in ("", "ai.onnx")})


def convert_onnx(model, path, *, opset=OPSET):
    """Converts the model (tensor inputs, see `tensor_model`) to an ONNX file; returns the ONNX ModelProto.

    Raises:
        ExportError: tf2onnx cannot convert an op (the message names it).

    Example:

    >>> proto = convert_onnx(model, os.path.join(tmp_dir, "model.onnx"))
    >>> [i.name for i in proto.graph.input][:2]
    ['presence', 'caption']
    """
    onnx, _, tf2onnx = _import_onnx()
    signature = input_signature(model)
    function = tf.function(tensor_function(model), input_signature=signature)
    level = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # freezing the graph warns about collections it does not serialise
    try:
        proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)
    except Exception as e:  # tf2onnx raises many kinds; name the model and the first line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"tf2onnx cannot convert model {model.name!r}: {first}") from e
    finally:
        tf.get_logger().setLevel(level)
    missing = unsupported_ops(proto)
    if missing:
        raise ExportError(f"ONNX (opset {opset}) has no op for {', '.join(missing)} in model {model.name!r}: "
                          "export the SavedModel instead, or replace the layer that uses it")
    onnx.save(proto, path)
    return proto


def run_onnx(path, batch, names):
    """{output: array} of an ONNX file in onnxruntime (CPU) on a batch `{model input name: array}`.

    Args:
        path: the `.onnx` file.
        batch: the model inputs by the Keras model's input names.
        names: {name in the export: model input name} (`tensor_model.input_names`).

    Example:

    >>> batch = next(iter(mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False)))
    >>> path = os.path.join(tmp_dir, "m.onnx")
    >>> _ = convert_onnx(model, path)
    >>> run_onnx(path, batch, input_names(model))["label"].shape[1]
    8
    """
    _, onnxruntime, _ = _import_onnx()
    try:
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as e:  # an op onnxruntime cannot run
        raise ExportError(f"onnxruntime cannot load {path}: {str(e).strip().splitlines()[0]}") from e
    feed = {name: np.asarray(batch[original]) for name, original in names.items()}
    outputs = session.run(None, feed)
    return {o.name: value for o, value in zip(session.get_outputs(), outputs)}


def export_onnx(model, path, batch):
    """Converts the model to `path` and checks it in onnxruntime against the Keras model; returns the differences.

    Args:
        model: the Keras model.
        path: the `.onnx` file to write.
        batch: a batch of model inputs `{model input name: array}` to check with.

    Returns:
        {output: max |ONNX - Keras|}.

    Example:

    >>> batch = next(iter(mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False)))
    >>> diff = export_onnx(model, os.path.join(tmp_dir, "c.onnx"), batch)
    >>> diff["label"] <= 1e-5
    True
    """
    expected = keras_outputs(model, batch)
    convert_onnx(model, path)
    return compare(expected, run_onnx(path, batch, input_names(model)), what="ONNX model in onnxruntime")
