"""The retrieval export: one SavedModel, one `embed_<input>` signature per tower."""

import tensorflow as tf

from mmkeras.data.presence import decode_or_zeros
from mmkeras.export.saved_model import _write_atomically, write_archive


def embed_function(feature, tower, name):
    """A `tf.function` over one input's raw `[batch]` values -> `{"embedding": [batch, dim]}`.

    File inputs take encoded file bytes (decoded per example, as in
    training; empty bytes decode to zeros), text and categorical inputs
    strings, numeric float32. The feature's batch `transform` (token lookup,
    audio features, standardisation) runs before the tower.

    Example:

    >>> fn = embed_function(pre.features["caption"], model.tower("caption"), "caption")
    >>> fn(tf.constant(["a red circle"]))["embedding"].shape
    TensorShape([1, 64])
    """
    @tf.function(input_signature=[tf.TensorSpec([None], feature.raw_dtype, name=name)])
    def embed(values):
        if feature.is_file:
            values = tf.map_fn(lambda v: decode_or_zeros(feature, v, training=False), values,
                               fn_output_signature=tf.TensorSpec(feature.decoded_shape, tf.float32))
        inputs = feature.transform(values, training=False)
        return {"embedding": tf.cast(tower(inputs, training=False), tf.float32)}

    return embed


def export_retrieval_model(model, preprocessor, path, *, overwrite=False):
    """Exports a trained `DualEncoder` as a SavedModel with one signature per tower.

    Signature `embed_<input>` takes one `[batch]` tensor named after the
    input (encoded file bytes for image/audio, strings for text) and
    returns `embedding`, float32 `[batch, embedding_dim]`, L2-normalised.
    (TensorFlow also lists the first tower's signature as `serving_default`.)
    The SavedModel runs with TensorFlow alone;
    `assets.extra/mmkeras.json` records the task and inputs. Written
    atomically; an existing `path` is replaced only with `overwrite=True`.

    Args:
        model: the `DualEncoder` from `build_dual_encoder` (trained or loaded).
        preprocessor: its adapted `Preprocessor`.
        path: the folder to create.
        overwrite: replace an existing folder.

    Returns:
        The absolute path written.

    Example:

    >>> export_retrieval_model(model, pre, "runs/r/saved_model")
    >>> export = tf.saved_model.load("runs/r/saved_model")
    >>> export.signatures["embed_caption"](caption=tf.constant(["a red circle"]))["embedding"]
    """
    spec = preprocessor.spec
    task = spec.task

    def write(tmp):
        metadata = {
            "name": spec.name,
            "task": {"type": task.type, "pair": list(task.pair), "embedding_dim": task.embedding_dim},
            "signatures": {f"embed_{n}": {"input": n, "output": "embedding"} for n in task.pair},
            "inputs": {n: {"type": spec.inputs[n].type, "column": spec.inputs[n].column} for n in task.pair},
            "outputs": {},
        }
        tracked = [layer for n in task.pair for layer in preprocessor.features[n].tracked_layers()]
        endpoints = {f"embed_{n}": embed_function(preprocessor.features[n], model.tower(n), n) for n in task.pair}
        write_archive(tmp, model, tracked, endpoints, metadata)

    return _write_atomically(path, write, overwrite)
