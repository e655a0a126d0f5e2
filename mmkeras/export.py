"""`export_saved_model`: a SavedModel that serves raw file bytes, strings and numbers."""

import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

METADATA_FILE = "mmkeras.json"


def serving_outputs(spec, preprocessor, predictions):
    """Model outputs -> the contract's named serving outputs."""
    result = {}
    for name, out in spec.outputs.items():
        y = tf.cast(predictions[name], tf.float32)
        if out.type in ("classification", "binary"):
            if out.type == "binary":
                y = tf.concat([1.0 - y, y], axis=-1)
            classes = tf.constant(preprocessor.targets[name].classes, tf.string)
            result[f"{name}_probabilities"] = y
            result[f"{name}_label"] = tf.gather(classes, tf.argmax(y, axis=-1))
        else:
            result[name] = tf.reshape(y, [-1])
    return result


def _write_atomically(target, write, overwrite):
    target = os.path.abspath(target)
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True (--overwrite) to replace it.")
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.tmp-", dir=parent)
    try:
        write(tmp)
        if os.path.exists(target):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-", dir=parent)
            os.rename(target, os.path.join(old, "previous"))
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def export_saved_model(model, preprocessor, path, *, overwrite=False):
    """Exports model + preprocessing as a SavedModel that takes raw inputs.

    The `serving_default` signature takes one `[batch]` tensor per input,
    named after it: image and audio inputs as encoded file bytes, text and
    categorical as strings, numeric as float32. It returns, per
    classification/binary output `o`, `o_probabilities` `[batch, classes]`
    and `o_label` (the class value as written in the table); per regression
    output `o`, a `[batch]` float32. The SavedModel runs with TensorFlow
    alone (no mmkeras import needed). It is written to a temporary folder
    and renamed into place; an existing `path` is only replaced with
    `overwrite=True`.

    Args:
        model: the trained model from `build_model`.
        preprocessor: the adapted `Preprocessor` it was trained with.
        path: the folder to create.
        overwrite: replace an existing folder.

    Returns:
        The absolute path written.

    Example:

    >>> mmkeras.export_saved_model(model, pre, "export/")
    >>> served = tf.saved_model.load("export/").signatures["serving_default"]
    >>> served(picture=tf.constant([png_bytes]), ...)["label_label"]
    """
    spec = preprocessor.spec
    raw_spec = preprocessor.raw_signature()
    names = list(raw_spec)

    @tf.function(input_signature=[raw_spec[n] for n in names])
    def serve(*args):
        features = preprocessor(dict(zip(names, args)))
        return serving_outputs(spec, preprocessor, model(features, training=False))

    def write(tmp):
        archive = keras.export.ExportArchive()
        archive.track(model)
        for feature in preprocessor.features.values():
            layer = getattr(feature, "layer", None)
            if layer is not None:
                archive.track(layer)
        archive.add_endpoint("serving_default", serve)
        archive.write_out(tmp, verbose=False)
        metadata = {
            "name": spec.name,
            "inputs": {n: {"type": i.type, "column": i.column} for n, i in spec.inputs.items()},
            "outputs": {n: {"type": o.type, "column": o.column,
                            "classes": list(preprocessor.targets[n].classes)}
                        for n, o in spec.outputs.items()},
        }
        os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
        with open(os.path.join(tmp, "assets.extra", METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=1)

    return _write_atomically(path, write, overwrite)
