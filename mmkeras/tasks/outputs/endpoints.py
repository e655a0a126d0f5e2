"""The serving endpoint of a model with outputs: raw inputs in, each output's head's serving outputs out."""

import tensorflow as tf

from mmkeras.data.text_kerashub import serving_imports
from mmkeras.tasks.outputs.heads import HEADS


def serving_outputs(spec, preprocessor, predictions):
    """Model outputs -> the named serving outputs of every output (each output's head decides its own).

    Example:

    >>> predictions = model(pre(dict(picture=tf.constant([b""]), sound=tf.constant([b""]),
    ...     caption=tf.constant(["a red circle"]), reading=tf.constant([0.5]), colour=tf.constant(["red"]))))
    >>> sorted(serving_outputs(spec, pre, predictions))
    ['label_label', 'label_probabilities']
    """
    result = {}
    for name, out in spec.outputs.items():
        head = HEADS.get(out.type)
        result.update(head.serving_outputs(name, out, preprocessor.targets[name], predictions[name]))
    return result


def export_metadata(spec, preprocessor):
    """The export's `mmkeras.json`: the spec's name, its inputs' types and columns, each output's entry.

    Example:

    >>> export_metadata(spec, pre)["outputs"]["label"]["type"]
    'classification'
    """
    metadata = {
        "name": spec.name,
        "inputs": {n: {"type": i.type, "column": i.column} for n, i in spec.inputs.items()},
        "outputs": {n: HEADS.get(o.type).export_metadata(o, preprocessor.targets[n])
                    for n, o in spec.outputs.items()},
    }
    imports = serving_imports(preprocessor.features)
    if imports:  # e.g. tensorflow_text for KerasHub tokenizers: import it before loading the SavedModel
        metadata["serving_imports"] = imports
    return metadata


def serving_endpoints(model, preprocessor):
    """(tracked objects, {"serving_default": tf.function}, metadata) of a model with outputs.

    `serving_default` takes one raw `[batch]` tensor per input (named after
    it), runs the preprocessor and the model, and returns
    `serving_outputs`. The preprocessor's lookup tables are tracked so the
    SavedModel carries them.

    Example:

    >>> tracked, endpoints, metadata = serving_endpoints(model, pre)
    >>> list(endpoints), metadata["name"] == spec.name
    (['serving_default'], True)
    """
    spec = preprocessor.spec
    raw_spec = preprocessor.raw_signature()
    names = list(raw_spec)

    @tf.function(input_signature=[raw_spec[n] for n in names])
    def serve(*args):
        features = preprocessor(dict(zip(names, args)))
        return serving_outputs(spec, preprocessor, model(features, training=False))

    tracked = [layer for feature in preprocessor.features.values() for layer in feature.tracked_layers()]
    return tracked, {"serving_default": serve}, export_metadata(spec, preprocessor)
