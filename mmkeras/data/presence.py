"""Presence of each input in a row: the `"_presence"` model input (1 = present, 0 = missing).

A value is missing when it is empty: an empty (or NaN) path or empty bytes for
file inputs (image, audio, video), an empty (or blank) string for text,
categorical, multi-hot and boolean inputs, NaN for numeric inputs. Presence is
computed with TensorFlow ops on the *raw* value, so the same code runs in
`tf.data` and inside the exported SavedModel.

Every model `build_model` makes takes one extra input named `PRESENCE`:
float32 `[batch, n_inputs]`, columns in spec input order.
"""

import numpy as np
import tensorflow as tf

PRESENCE = "_presence"


def is_missing_cell(value):
    """Python side: is a table cell missing (None, NaN, empty or blank string, empty bytes)?

    Example:

    >>> [is_missing_cell(v) for v in ["", "  ", float("nan"), None, b"", "a.png", 0.0]]
    [True, True, True, True, True, False, False]
    """
    if value is None:
        return True
    if isinstance(value, float):
        return bool(np.isnan(value))
    if isinstance(value, (bytes, bytearray)):
        return len(value) == 0
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(np.isnan(value))
    except (TypeError, ValueError):
        return False


def present(feature, raw):
    """TF op: raw values of one input (any shape) -> bool tensor, True where present.

    Strings (paths, file bytes, texts, categories) are present when not empty
    (text-like inputs also when not blank); numbers when not NaN.

    Example:

    >>> present(pre.features["caption"], tf.constant(["a cat", "", "  "])).numpy()
    array([ True, False, False])
    """
    raw = tf.convert_to_tensor(raw)
    if raw.dtype == tf.string:
        if getattr(feature, "is_file", False):
            return tf.strings.length(raw) > 0  # bytes: never strip
        return tf.strings.length(tf.strings.strip(raw)) > 0
    return tf.math.is_finite(tf.cast(raw, tf.float32))  # NaN (and ±inf, which numeric inputs impute too)


def presence_matrix(features, raw_batch):
    """TF op: {input: raw `[batch]` values} -> float32 `[batch, n_inputs]` presence (spec order).

    Args:
        features: an ordered dict {input name: Feature} (`Preprocessor.features`).
        raw_batch: the raw values of a batch (paths or bytes, strings, floats).

    Example:

    >>> raw = {"picture": [b"\\x89PNG", b""], "sound": [b"", b""], "caption": ["a bird", " "],
    ...        "reading": [0.5, np.nan], "colour": ["red", ""]}
    >>> presence_matrix(pre.features, raw).numpy().tolist()
    [[1.0, 0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0]]
    """
    columns = []
    for name, feature in features.items():
        values = tf.reshape(tf.convert_to_tensor(raw_batch[name], feature.raw_dtype), [-1])
        columns.append(tf.cast(present(feature, values), tf.float32))
    return tf.stack(columns, axis=-1)


def presence_vector(features, raw_example):
    """TF op: {input: raw scalar} of ONE example -> float32 `[n_inputs]` presence.

    Example:

    >>> raw = {"picture": "/data/a.png", "sound": "", "caption": "a bird", "reading": np.nan, "colour": "red"}
    >>> presence_vector(pre.features, raw).numpy().tolist()
    [1.0, 0.0, 1.0, 0.0, 1.0]
    """
    return tf.stack([tf.cast(present(f, tf.convert_to_tensor(raw_example[n], f.raw_dtype)), tf.float32)
                     for n, f in features.items()])


def decode_or_zeros(feature, data, context="", training=False):
    """TF op: `feature.decode` of ONE raw example, or zeros of `decoded_shape` when it is missing.

    File inputs only are guarded (an empty path or empty bytes is never
    decoded, so no file is read and no decoder fails); other inputs decode
    as usual (their `transform` already handles "" and NaN).

    Example:

    >>> decode_or_zeros(pre.features["picture"], tf.constant(b"")).shape   # zeros
    TensorShape([32, 32, 3])
    """
    if not getattr(feature, "is_file", False) or feature.decoded_shape is None:
        return feature.decode(data, context, training=training)
    data = tf.convert_to_tensor(data)
    return tf.cond(tf.strings.length(data) > 0,
                   lambda: tf.cast(feature.decode(data, context, training=training), tf.float32),
                   lambda: tf.zeros(feature.decoded_shape, tf.float32))
