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
        elif out.type == "multilabel":
            result.update(_multilabel_outputs(name, out, preprocessor.targets[name], y))
        else:
            y = preprocessor.targets[name].decode_predictions(y)  # regression: back to the column's units
            result[name] = tf.reshape(y, [-1])
    return result


def _multilabel_outputs(name, out, target, probabilities):
    """`<o>_probabilities` `[batch, labels]` and `<o>_labels`: the labels at or above their threshold, joined."""
    labels = tf.constant(target.classes, tf.string)
    chosen = probabilities >= tf.constant(target.thresholds, tf.float32)
    picked = tf.ragged.boolean_mask(tf.broadcast_to(labels, tf.shape(probabilities)), chosen)
    joined = tf.strings.reduce_join(picked, axis=-1, separator=out.separator)
    return {f"{name}_probabilities": probabilities, f"{name}_labels": joined}


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


def write_archive(folder, model, tracked, endpoints, metadata):
    """Writes a SavedModel of `model` with `endpoints` into `folder`, plus `assets.extra/mmkeras.json`.

    Args:
        folder: an empty folder (the temporary side of an atomic export).
        model: the Keras model whose variables the endpoints use.
        tracked: other layers / TF objects holding state (lookup tables) to track.
        endpoints: {signature name: `tf.function` with an input signature}.
        metadata: JSON-ready description written beside the SavedModel.

    Example:

    >>> write_archive(tmp, model, [], {"serving_default": serve}, {"name": "demo"})
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    for layer in tracked:
        archive.track(layer)
    for name, fn in endpoints.items():
        archive.add_endpoint(name, fn)
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # TF logs "Assets written to <temporary folder>" at INFO
    try:
        archive.write_out(folder, verbose=False)
    finally:
        logger.setLevel(level)
    os.makedirs(os.path.join(folder, "assets.extra"), exist_ok=True)
    with open(os.path.join(folder, "assets.extra", METADATA_FILE), "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=1)


def export_saved_model(model, preprocessor, path, *, overwrite=False):
    """Exports model + preprocessing as a SavedModel that takes raw inputs.

    The `serving_default` signature takes one `[batch]` tensor per input,
    named after it: image and audio inputs as encoded file bytes, text and
    categorical as strings, numeric as float32. It returns, per
    classification/binary output `o`, `o_probabilities` `[batch, classes]`
    and `o_label` (the class value as written in the table); per multilabel
    output `o_probabilities` `[batch, labels]` and `o_labels` (the labels at
    or above their threshold, joined by the output's separator); per
    regression output `o`, a `[batch]` float32 in the column's units. The SavedModel runs with TensorFlow
    alone (no mmkeras import needed). Any input may be missing in a row:
    empty bytes or an empty string (NaN for numbers) gives presence 0 and
    the model's learned "missing" embedding; files are then not decoded
    (see `Preprocessor.__call__`). It is written to a temporary folder
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

    A retrieval spec (`task: retrieval`) gets instead one signature
    `embed_<input>` per tower; see `mmkeras.tasks.retrieval.export_retrieval_model`.
    """
    if preprocessor.spec.task is not None:
        from mmkeras.tasks.retrieval.endpoints import export_retrieval_model

        return export_retrieval_model(model, preprocessor, path, overwrite=overwrite)
    spec = preprocessor.spec
    raw_spec = preprocessor.raw_signature()
    names = list(raw_spec)

    @tf.function(input_signature=[raw_spec[n] for n in names])
    def serve(*args):
        features = preprocessor(dict(zip(names, args)))
        return serving_outputs(spec, preprocessor, model(features, training=False))

    def write(tmp):
        metadata = {
            "name": spec.name,
            "inputs": {n: {"type": i.type, "column": i.column} for n, i in spec.inputs.items()},
            "outputs": {n: {"type": o.type, "column": o.column,
                            "classes": list(preprocessor.targets[n].classes)}
                        for n, o in spec.outputs.items()},
        }
        for n, o in spec.outputs.items():
            if o.type == "multilabel":
                metadata["outputs"][n].update(separator=o.separator, thresholds=preprocessor.targets[n].thresholds)
        tracked = [layer for feature in preprocessor.features.values() for layer in feature.tracked_layers()]
        write_archive(tmp, model, tracked, {"serving_default": serve}, metadata)

    return _write_atomically(path, write, overwrite)


_SUBPROCESS_SCRIPT = r"""
import sys, numpy as np, tensorflow as tf
saved_model, batch_file, out_file = sys.argv[1:4]
batch = dict(np.load(batch_file, allow_pickle=True))
serve = tf.saved_model.load(saved_model).signatures["serving_default"]
specs = serve.structured_input_signature[1]
outputs = serve(**{k: tf.constant(v, dtype=specs[k].dtype) for k, v in batch.items()})
np.savez(out_file, **{k: v.numpy() for k, v in outputs.items()})
assert "mmkeras" not in sys.modules, "the export needed mmkeras"
"""


def serve_in_subprocess(saved_model_dir, batch, *, timeout=300):
    """Runs `serving_default` on `batch` in a fresh Python that never imports mmkeras.

    Args:
        saved_model_dir: an export written by `export_saved_model`.
        batch: {input name: numpy array} of raw inputs (bytes objects for files).

    Returns:
        {output name: numpy array}.

    Example:

    >>> out = serve_in_subprocess("runs/demo/saved_model", {"caption": np.array(["a cat"], object), ...})
    """
    import subprocess
    import sys

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        batch_file, out_file = os.path.join(tmp, "batch.npz"), os.path.join(tmp, "out.npz")
        np.savez(batch_file, **{k: np.asarray(v) for k, v in batch.items()})
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        result = subprocess.run([sys.executable, "-c", _SUBPROCESS_SCRIPT, saved_model_dir, batch_file, out_file],
                                capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp)
        if result.returncode != 0:
            raise RuntimeError(f"Serving {saved_model_dir} in a subprocess failed:\n{result.stderr[-3000:]}")
        with np.load(out_file, allow_pickle=True) as data:
            return {k: data[k] for k in data.files}
