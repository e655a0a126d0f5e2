"""The tensor-input model as a plain function: what the ONNX and LiteRT exports convert.

The SavedModel export (`saved_model/`) takes raw inputs (file bytes,
strings) and runs the preprocessing inside. ONNX and LiteRT runtimes have
no such ops (image and WAV decoding, string lookups, the audio frontend),
so those exports hold the **Keras model alone**: it takes the tensors the
preprocessor makes (one per input, plus the presence matrix) and returns
the model's outputs (probabilities, standardised regression values).
Preprocessing stays in the SavedModel (or `mmkeras.Preprocessor`).

Input names are the model's, with leading underscores dropped (ONNX and
TensorFlow signatures do not start names with `_`): `_presence` becomes
`presence`.
"""

import numpy as np
import tensorflow as tf

from mmkeras.errors import ExportError

TOLERANCE = 1e-5


def input_names(model):
    """{name in the export: the model's input name}, in the model's input order.

    Example:

    >>> input_names(model)["presence"]
    '_presence'
    """
    if not getattr(model, "inputs", None):
        raise ExportError(f"model {model.name!r} has no functional inputs (a retrieval dual encoder?): ONNX and "
                          "LiteRT exports take models with outputs; use the SavedModel's embed_<input> signatures")
    return {t.name.lstrip("_"): t.name for t in model.inputs}


def input_signature(model):
    """One `tf.TensorSpec` per model input (batch dimension free), named as in the export.

    Example:

    >>> [s.name for s in input_signature(model)][:2]
    ['presence', 'caption']
    """
    return [tf.TensorSpec(t.shape, t.dtype, name=name) for name, t in zip(input_names(model), model.inputs)]


def tensor_function(model):
    """`f(*tensors) -> {output: tensor}`: the model in inference mode, inputs in `input_signature` order.

    Example:

    >>> f = tensor_function(model)
    >>> batch = next(iter(mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False)))
    >>> sorted(f(*[batch[n] for n in input_names(model).values()]))
    ['label']
    """
    names = list(input_names(model).values())
    structure = model.input

    def call(*tensors):
        if isinstance(structure, dict):
            inputs = dict(zip(names, tensors))
        else:
            inputs = tensors[0] if len(tensors) == 1 else list(tensors)
        outputs = model(inputs, training=False)
        if not isinstance(outputs, dict):
            outputs = {model.output_names[0]: outputs}
        return {k: tf.cast(v, tf.float32) for k, v in outputs.items()}

    return call


def keras_outputs(model, batch):
    """{output: numpy array} of the Keras model on a batch `{model input name: array}`.

    Example:

    >>> batch = next(iter(mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False)))
    >>> keras_outputs(model, batch)["label"].shape[1]
    8
    """
    names = list(input_names(model).values())
    outputs = tensor_function(model)(*[tf.convert_to_tensor(batch[n]) for n in names])
    return {k: np.asarray(v) for k, v in outputs.items()}


def compare(expected, got, *, tolerance=TOLERANCE, what="export"):
    """{output: max |got - expected|}; an ExportError when an output is missing or differs by more than `tolerance`.

    Example:

    >>> compare({"y": np.zeros(3)}, {"y": np.full(3, 1e-7)})
    {'y': 1e-07}
    """
    differences = {}
    for name, values in expected.items():
        if name not in got:
            raise ExportError(f"the {what} has no output {name!r}; it has {sorted(got)}")
        differences[name] = float(np.max(np.abs(np.asarray(got[name], np.float64) - values))) if values.size else 0.0
    worst = max(differences, key=differences.get, default=None)
    if worst is not None and not differences[worst] <= tolerance:
        raise ExportError(f"the {what} differs from the Keras model: max |difference| on {worst!r} is "
                          f"{differences[worst]:.3g} (allowed {tolerance:g})")
    return differences
