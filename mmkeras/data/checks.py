"""Finding the row behind a decode failure, so errors name row, column and file."""

import re

import tensorflow as tf

from mmkeras.data.errors import DataError

_CONTEXT = re.compile(r"(Not a .*?|Sample rate.*?):?\s*(row \d+.*?file [^\n\]]+)")


def find_bad_file(preprocessor, df, *, root=None, table=""):
    """Decodes every file of `df` eagerly and returns a message for the first that fails, or None.

    Slow (one file at a time); used only after the pipeline reported a decode error.
    """
    raw = preprocessor.raw_columns(df, root=root, table=table)
    for name, feature in preprocessor.features.items():
        if not feature.is_file:
            continue
        contexts = preprocessor.contexts(df, name, raw[name], table)
        for path, context in zip(raw[name], contexts):
            try:
                feature.decode(tf.io.read_file(path), context)
            except tf.errors.OpError as e:
                detail = e.message.strip().splitlines()[0][:300]
                return f"Cannot decode {context}: {detail}"
    return None


def explain_op_error(error, preprocessor=None, tables=()):
    """A DataError naming row, column and file for a TensorFlow error raised by the pipeline."""
    message = getattr(error, "message", str(error))
    match = _CONTEXT.search(message)
    if match:
        return DataError(f"{match.group(2).strip()}: {match.group(1).strip()}")
    if preprocessor is not None:
        for name, df in tables:
            found = find_bad_file(preprocessor, df, table=name)
            if found:
                return DataError(found)
    return DataError(f"The input pipeline failed: {message.strip().splitlines()[0][:300]}")
