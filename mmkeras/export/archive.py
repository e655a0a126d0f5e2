"""Writing SavedModels: the archive of a model's endpoints, written atomically, with mmkeras' metadata.

Every export (`mmkeras.export_saved_model`, the retrieval endpoints) goes
through `write_saved_model`: a Keras `ExportArchive` of the model, the
objects its endpoints use and the endpoints themselves, plus
`assets.extra/mmkeras.json`, written to a temporary folder and renamed
into place.
"""

import json
import os

import keras
import tensorflow as tf

from mmkeras.files import write_atomically

METADATA_FILE = "mmkeras.json"


def write_archive(folder, model, tracked, endpoints, metadata):
    """Writes a SavedModel of `model` with `endpoints` into `folder`, plus `assets.extra/mmkeras.json`.

    Args:
        folder: an empty folder (the temporary side of an atomic export).
        model: the Keras model whose variables the endpoints use.
        tracked: other layers / TF objects holding state (lookup tables) to track.
        endpoints: {signature name: `tf.function` with an input signature}.
        metadata: JSON-ready description written beside the SavedModel.

    Example:

    >>> serve = tf.function(lambda x: {"y": x * 2.0}, input_signature=[tf.TensorSpec([None], tf.float32)])
    >>> folder = os.path.join(tmp_dir, "doubled")
    >>> dense = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> write_archive(folder, dense, [], {"serving_default": serve}, {"name": "x"})
    >>> sorted(os.listdir(os.path.join(folder, "assets.extra")))
    ['mmkeras.json']
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


def write_saved_model(path, model, tracked, endpoints, metadata, *, overwrite=False):
    """Writes `write_archive`'s SavedModel to `path` atomically; an existing `path` only with `overwrite`.

    Args:
        path: the folder to create.
        model, tracked, endpoints, metadata: as in `write_archive`.
        overwrite: replace an existing folder (only once the new one is complete).

    Returns:
        The absolute path written.

    Example:

    >>> serve = tf.function(lambda x: {"y": x * 2.0}, input_signature=[tf.TensorSpec([None], tf.float32)])
    >>> dense = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> path = write_saved_model(os.path.join(tmp_dir, "twice"), dense, [], {"serving_default": serve}, {"name": "x"})
    >>> float(tf.saved_model.load(path).signatures["serving_default"](x=tf.constant([1.5]))["y"][0])
    3.0
    """
    return write_atomically(path, lambda folder: write_archive(folder, model, tracked, endpoints, metadata),
                            overwrite)
