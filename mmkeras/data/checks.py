"""Finding the row behind a decode failure, so errors name row, column and file."""

import re

import tensorflow as tf

from mmkeras.errors import DataError, clean_tf_text

_ASSERTION = re.compile(r"assertion failed: ((?:\[[^\]]*\]\s*)+)")


def find_bad_file(preprocessor, df, *, root=None, table=""):
    """Decodes every file of `df` eagerly and returns a message for the first that fails, or None.

    Slow (one file at a time); used only after the pipeline reported a decode error.

    Args:
        preprocessor: an adapted Preprocessor (its file inputs are decoded).
        df: the rows whose files to decode.
        root: folder for relative file paths (default: the spec's data root).
        table: the table's name in the message.

    Example:

    >>> print(find_bad_file(pre, splits["test"], table="test split"))
    None
    """
    raw = preprocessor.raw_columns(df, root=root, table=table)
    for name, feature in preprocessor.features.items():
        if not feature.is_file:
            continue
        contexts = preprocessor.contexts(df, name, raw[name], table)
        for path, context in zip(raw[name], contexts):
            try:
                feature.decode(feature.read(path), context)
            except tf.errors.OpError as e:
                detail = (clean_tf_text(e.message).splitlines() or [""])[0][:300]
                return f"Cannot decode {context}: {detail}"
    return None


def explain_op_error(error, preprocessor=None, tables=(), *, root=None):
    """A DataError naming row, column and file for a TensorFlow error raised by the pipeline.

    The in-graph checks put "row R, column 'C', file F" into their assertion
    messages; for other decode failures (e.g. a truncated file with a valid
    header) the files of `tables` (pairs of name and DataFrame, paths relative
    to `root`) are decoded one by one to find the culprit.

    Args:
        error: a `tf.errors.OpError` from iterating a dataset.
        preprocessor: the Preprocessor the dataset was built with (None: read the message only).
        tables: pairs (name, DataFrame) of the rows the dataset read.
        root: folder for relative file paths (default: the spec's data root).

    Returns:
        A `DataError` to raise.

    Example:

    >>> message = "assertion failed: [row 4 of test split, column 'image_path', file a.png:] [not a PNG]"
    >>> print(explain_op_error(tf.errors.InvalidArgumentError(None, None, message)))
    row 4 of test split, column 'image_path', file a.png: not a PNG
    """
    message = getattr(error, "message", str(error)).replace("\\'", "'")
    match = _ASSERTION.search(message)
    if match:
        parts = [p.strip().rstrip(":") for p in re.findall(r"\[([^\]]*)\]", match.group(1))]
        where = [p for p in parts if p.startswith(("row ", "input "))]
        reason = " ".join(p for p in parts if p not in where)
        if where:
            return DataError(f"{where[0]}: {reason}", debug=message)
    if preprocessor is not None:
        for name, df in tables:
            found = find_bad_file(preprocessor, df, root=root, table=name)
            if found:
                return DataError(found, debug=message)
    cleaned = clean_tf_text(message).splitlines()
    return DataError(f"The input pipeline failed: {(cleaned or [''])[0][:300]}", debug=message)
