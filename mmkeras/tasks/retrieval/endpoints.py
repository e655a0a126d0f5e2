"""The retrieval export: one SavedModel, one `embed_<input>` signature per tower."""

import tensorflow as tf

from mmkeras.data.presence import decode_or_zeros
from mmkeras.export.archive import write_saved_model


def embed_function(feature, tower, name):
    """A `tf.function` over one input's raw `[batch]` values -> `{"embedding": [batch, dim]}`.

    File inputs take encoded file bytes (decoded per example, as in
    training; empty bytes decode to zeros), text and categorical inputs
    strings, numeric float32. The feature's batch `transform` (token lookup,
    audio features, standardisation) runs before the tower.

    Example:

    >>> pairs_spec = mmkeras.load_spec(mmkeras.testing.retrieval_spec_dict(os.path.join(data_dir, "manifest.csv")))
    >>> pairs_pre = mmkeras.Preprocessor(pairs_spec).adapt(splits["train"])
    >>> pairs = mmkeras.tasks.retrieval.build_dual_encoder(pairs_spec, pairs_pre)
    >>> fn = embed_function(pairs_pre.features["caption"], pairs.tower("caption"), "caption")
    >>> fn(tf.constant(["a red circle"]))["embedding"].shape
    TensorShape([1, 8])
    """
    @tf.function(input_signature=[tf.TensorSpec([None], feature.raw_dtype, name=name)])
    def embed(values):
        if feature.is_file:
            values = tf.map_fn(lambda v: decode_or_zeros(feature, v, training=False), values,
                               fn_output_signature=tf.TensorSpec(feature.decoded_shape, tf.float32))
        inputs = feature.transform(values, training=False)
        return {"embedding": tf.cast(tower(inputs, training=False), tf.float32)}

    return embed


def retrieval_endpoints(model, preprocessor):
    """(tracked objects, {"embed_<input>": tf.function} per tower, metadata) of a `DualEncoder`.

    Example:

    >>> pairs_spec = mmkeras.load_spec(mmkeras.testing.retrieval_spec_dict(os.path.join(data_dir, "manifest.csv")))
    >>> pairs_pre = mmkeras.Preprocessor(pairs_spec).adapt(splits["train"])
    >>> pairs = mmkeras.tasks.retrieval.build_dual_encoder(pairs_spec, pairs_pre)
    >>> tracked, endpoints, metadata = retrieval_endpoints(pairs, pairs_pre)
    >>> sorted(endpoints)
    ['embed_caption', 'embed_picture']
    """
    spec = preprocessor.spec
    task = spec.task
    metadata = {
        "name": spec.name,
        "task": {"type": task.type, "pair": list(task.pair), "embedding_dim": task.embedding_dim},
        "signatures": {f"embed_{n}": {"input": n, "output": "embedding"} for n in task.pair},
        "inputs": {n: {"type": spec.inputs[n].type, "column": spec.inputs[n].column} for n in task.pair},
        "outputs": {},
    }
    tracked = [layer for n in task.pair for layer in preprocessor.features[n].tracked_layers()]
    endpoints = {f"embed_{n}": embed_function(preprocessor.features[n], model.tower(n), n) for n in task.pair}
    return tracked, endpoints, metadata


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

    >>> pairs_spec = mmkeras.load_spec(mmkeras.testing.retrieval_spec_dict(os.path.join(data_dir, "manifest.csv")))
    >>> pairs_pre = mmkeras.Preprocessor(pairs_spec).adapt(splits["train"])
    >>> pairs = mmkeras.tasks.retrieval.build_dual_encoder(pairs_spec, pairs_pre)
    >>> path = export_retrieval_model(pairs, pairs_pre, os.path.join(tmp_dir, "pairs"))
    >>> export = tf.saved_model.load(path)
    >>> export.signatures["embed_caption"](caption=tf.constant(["a red circle"]))["embedding"].shape
    TensorShape([1, 8])
    """
    tracked, endpoints, metadata = retrieval_endpoints(model, preprocessor)
    return write_saved_model(path, model, tracked, endpoints, metadata, overwrite=overwrite)
