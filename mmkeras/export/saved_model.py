"""`export_saved_model`: a SavedModel that serves raw file bytes, strings and numbers, whatever the task."""

from mmkeras.tasks.registry import task_for


def export_saved_model(model, preprocessor, path, *, overwrite=False):
    """Exports model + preprocessing as a SavedModel that takes raw inputs.

    The `serving_default` signature takes one `[batch]` tensor per input,
    named after it: image and audio inputs as encoded file bytes, text and
    categorical as strings, numeric as float32. It returns, per
    classification/binary output `o`, `o_probabilities` `[batch, classes]`
    and `o_label` (the class value as written in the table); per multilabel
    output `o_probabilities` `[batch, labels]` and `o_labels` (the labels at
    or above their threshold, joined by the output's separator); per
    regression output `o`, a `[batch]` float32 in the column's units; per
    output of a type added with `register_head`, what its head serves (by
    default `o`, its decoded predictions). The SavedModel runs with
    TensorFlow alone (no mmkeras import needed). Any input may be missing in a row:
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

    A retrieval spec (`task: retrieval`) gets instead one signature
    `embed_<input>` per tower; see `mmkeras.tasks.retrieval.export_retrieval_model`.
    Each task says what it serves (`Task.endpoints`); this writes it with
    `mmkeras.export.archive.write_saved_model`.

    Example:

    >>> path = mmkeras.export_saved_model(model, pre, os.path.join(tmp_dir, "export"))
    >>> served = tf.saved_model.load(path).signatures["serving_default"]
    >>> out = served(picture=tf.constant([b""]), sound=tf.constant([b""]), caption=tf.constant(["a red circle"]),
    ...              reading=tf.constant([0.5]), colour=tf.constant(["red"]))
    >>> out["label_probabilities"].shape
    TensorShape([1, 8])
    """
    return task_for(preprocessor.spec).export(model, preprocessor, path, overwrite=overwrite)
