"""TFDS features as mmkeras inputs and outputs: which feature feeds which input type, and the ops in between.

| TFDS feature | mmkeras input / output | in training |
| --- | --- | --- |
| `Image` | image | decoded uint8 `[h, w, c]`, then `ImageFeature.decode_tensor` |
| `Video`, `Sequence(Image)` | video | the sampled frames decoded, then as image frames |
| `Audio` | audio | integer (16-bit) or float samples at the feature's `sample_rate` |
| `Text`, string scalar | text, categorical, boolean, multi_hot (separated) | the string |
| `ClassLabel` | classification / binary output; categorical input | the class index / its name |
| integer, float, bool scalar | numeric input; regression output; categorical, boolean | float32 / the string |
| `Sequence(ClassLabel)`, `Sequence(Text)` | multi_hot | the names joined by the input's `separator` |

A spec's `column` names a feature key, nested keys joined with `/`
(`objects/label`). The serving side of the export is unchanged: it takes
encoded images (PNG, JPEG), WAV bytes and `encode_frames` clips, which
`mmkeras.data.sources.tfds.serving` makes from TFDS examples.
"""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mmkeras.data.presence import decode_or_zeros, present
from mmkeras.data.targets import BinaryTarget, ClassTarget, NumericTarget, RegressionTarget
from mmkeras.errors import SpecError

# The feature kinds (`feature_kind`) each input type reads.
INPUT_KINDS = {
    "image": ("image",),
    "video": ("video",),
    "audio": ("audio",),
    "text": ("text", "string"),
    "categorical": ("class_label", "text", "string", "integer", "bool"),
    "numeric": ("integer", "float", "bool"),
    "boolean": ("bool", "integer", "text", "string"),
    "multi_hot": ("labels", "strings", "text", "string"),
}
KIND_NAMES = {"image": "Image", "video": "Video or Sequence(Image)", "audio": "Audio", "text": "Text",
              "string": "a string scalar", "class_label": "ClassLabel", "integer": "an integer scalar",
              "float": "a float scalar", "bool": "a bool scalar", "labels": "Sequence(ClassLabel)",
              "strings": "Sequence(Text)"}
MEDIA = ("image", "video", "audio")
# 16-bit samples: tf.audio.decode_wav divides by 2**15, so integer samples do too.
PCM16_SCALE = 32768.0


def feature_kind(feature):
    """What a TFDS feature holds, as `INPUT_KINDS` names it ("image", "class_label", "float", ...; "other").

    Example:

    >>> feature_kind(tfds.features.Image(shape=(28, 28, 1))), feature_kind(tfds.features.ClassLabel(num_classes=3))
    ('image', 'class_label')
    >>> feature_kind(tfds.features.Scalar(np.float32)), feature_kind(tfds.features.Sequence(tfds.features.Text()))
    ('float', 'strings')
    """
    f = tfds.features
    if isinstance(feature, f.Image):
        return "image"
    if isinstance(feature, f.Video):
        return "video"
    if isinstance(feature, f.Sequence):
        inner = feature_kind(feature.feature)
        return {"image": "video", "class_label": "labels", "text": "strings", "string": "strings"}.get(inner, "other")
    if isinstance(feature, f.Audio):
        return "audio"
    if isinstance(feature, f.ClassLabel):
        return "class_label"
    if isinstance(feature, f.Text):
        return "text" if getattr(feature, "encoder", None) is None else "other"
    if isinstance(feature, f.Tensor) and tuple(feature.shape) == ():
        dtype = tf.dtypes.as_dtype(feature.tf_dtype)
        if dtype == tf.string:
            return "string"
        if dtype == tf.bool:
            return "bool"
        return "integer" if dtype.is_integer else "float" if dtype.is_floating else "other"
    return "other"


def feature_keys(features, prefix=""):
    """Every leaf key of a `FeaturesDict`, nested keys joined with `/`.

    Example:

    >>> feature_keys(tfds.features.FeaturesDict({"image": tfds.features.Image(),
    ...                                          "objects": {"label": tfds.features.ClassLabel(num_classes=2)}}))
    ['image', 'objects/label']
    """
    keys = []
    for key in features.keys():
        feature = features[key]
        if isinstance(feature, tfds.features.FeaturesDict):
            keys.extend(feature_keys(feature, f"{prefix}{key}/"))
        else:
            keys.append(f"{prefix}{key}")
    return keys


def feature_at(features, key):
    """The feature under `key` (nested keys joined with `/`), or None.

    Example:

    >>> features = tfds.features.FeaturesDict({"objects": {"label": tfds.features.ClassLabel(num_classes=2)}})
    >>> feature_kind(feature_at(features, "objects/label")), feature_at(features, "label")
    ('class_label', None)
    """
    for part in key.split("/"):
        if not isinstance(features, tfds.features.FeaturesDict) or part not in features.keys():
            return None
        features = features[part]
    return features


def value_at(example, key):
    """The value of `key` (nested keys joined with `/`) in a TFDS example dict.

    Example:

    >>> value_at({"objects": {"label": 3}}, "objects/label")
    3
    """
    for part in key.split("/"):
        example = example[part]
    return example


def nested(pairs):
    """{"a/b": v} -> {"a": {"b": v}}: the structure TFDS `decoders` and `PartialDecoding` take.

    Example:

    >>> nested({"image": 1, "objects/label": True})
    {'image': 1, 'objects': {'label': True}}
    """
    out = {}
    for key, value in pairs.items():
        parts = key.split("/")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _mismatch(path, key, dataset, feature, wanted, keys):
    return SpecError(f"{path}: the TFDS feature {key!r} of {dataset} is {feature!r}, not {wanted}. "
                     f"Features of {dataset}: {', '.join(keys)}")


def check_input(input_spec, features, dataset):
    """The TFDS feature of an input, checked against its type; a SpecError names key path, feature and keys.

    Args:
        input_spec: an `InputSpec` whose `column` is a feature key.
        features: the dataset's `FeaturesDict`.
        dataset: the dataset's name, for messages.

    Returns:
        The TFDS feature.

    Example:

    >>> features = tfds.features.FeaturesDict({"image": tfds.features.Image(), "label": tfds.features.ClassLabel(num_classes=2)})
    >>> check_input(spec.inputs["caption"], features, "mnist")
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: inputs.caption.column: 'text' is not a feature of mnist. Features of mnist: image, label
    """
    path, key = f"inputs.{input_spec.name}.column", input_spec.column
    keys = feature_keys(features)
    feature = feature_at(features, key)
    if feature is None:
        raise SpecError(f"{path}: {key!r} is not a feature of {dataset}. Features of {dataset}: {', '.join(keys)}")
    allowed = INPUT_KINDS[input_spec.type]
    if feature_kind(feature) not in allowed:
        wanted = " or ".join(KIND_NAMES[k] for k in allowed)
        raise _mismatch(path, key, dataset, feature, f"{wanted} (what a {input_spec.type} input reads)", keys)
    return feature


def check_output(output_spec, target, features, dataset):
    """The TFDS feature of an output: a `ClassLabel` for class targets, a number for numeric ones.

    Args:
        output_spec: an `OutputSpec` whose `column` is a feature key.
        target: its (unadapted) target encoder (`mmkeras.data.targets.make_target`).
        features: the dataset's `FeaturesDict`.
        dataset: the dataset's name, for messages.

    Returns:
        The TFDS feature.

    Example:

    >>> features = tfds.features.FeaturesDict({"label": tfds.features.Text()})
    >>> check_output(spec.outputs["label"], mmkeras.data.targets.make_target(spec.outputs["label"]), features, "d")
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: outputs.label.column: the TFDS feature 'label' of d is Text(shape=(), dtype=string), not ClassLabel ...
    """
    path, key = f"outputs.{output_spec.name}.column", output_spec.column
    keys = feature_keys(features)
    feature = feature_at(features, key)
    if feature is None:
        raise SpecError(f"{path}: {key!r} is not a feature of {dataset}. Features of {dataset}: {', '.join(keys)}")
    if isinstance(target, ClassTarget):
        allowed = ("class_label",)
    elif isinstance(target, NumericTarget):
        allowed = ("integer", "float", "bool")
    else:
        raise SpecError(f"outputs.{output_spec.name}.type: {output_spec.type} outputs cannot be read from TFDS "
                        "(classification, binary, regression and numeric outputs can)")
    if feature_kind(feature) not in allowed:
        wanted = " or ".join(KIND_NAMES[k] for k in allowed)
        raise _mismatch(path, key, dataset, feature, f"{wanted} (what a {output_spec.type} output reads)", keys)
    return feature


def audio_rate(input_spec, feature, dataset=""):
    """The sample rate of an `Audio` feature (the spec's when the feature has none), checked against the spec.

    A rate other than the spec's `sample_rate` needs `resample: true`, as for files.

    Example:

    >>> audio_rate(spec.inputs["sound"], tfds.features.Audio(sample_rate=8000))
    8000
    """
    rate = feature.sample_rate or input_spec.sample_rate
    if rate != input_spec.sample_rate and not input_spec.resample:
        raise SpecError(f"inputs.{input_spec.name}.sample_rate: {input_spec.sample_rate} differs from the rate of "
                        f"the TFDS feature {input_spec.column!r} of {dataset or 'the dataset'} ({rate} Hz); set "
                        f"sample_rate: {rate}, or resample: true to resample in-graph")
    return rate


def raw_value(input_spec, feature, value):
    """TF op: one example's TFDS value of an input -> the raw value the pipeline carries.

    Media stay TFDS values (encoded images and frames, audio samples);
    numbers become float32; class indices their names; integers and bools
    strings; sequences of labels or strings one string joined by the
    input's `separator`.

    Example:

    >>> label = tfds.features.ClassLabel(names=["red", "blue"])
    >>> raw_value(spec.inputs["colour"], label, tf.constant(1, tf.int64)).numpy()
    b'blue'
    """
    kind = feature_kind(feature)
    if input_spec.type in MEDIA:
        return value
    if input_spec.type == "numeric":
        return tf.cast(value, tf.float32)
    if kind in ("class_label", "labels"):
        names = feature.names if kind == "class_label" else feature.feature.names
        value = tf.gather(tf.constant(names), value)
    elif kind == "integer":
        value = tf.strings.as_string(value)
    elif kind == "bool":
        value = tf.where(value, "true", "false")
    if kind in ("labels", "strings"):
        value = tf.strings.reduce_join(value, separator=input_spec.separator)
    return value


def presence(features, raw):
    """TF op: float32 `[n_inputs]` presence of one TFDS example (spec order); media inputs are always present.

    Example:

    >>> presence(pre.features, {"picture": tf.constant(b"png"), "sound": tf.zeros([8], tf.int16),
    ...     "caption": tf.constant(" "), "reading": tf.constant(np.nan, tf.float32), "colour": tf.constant("red")}).numpy()
    array([1., 1., 0., 0., 1.], dtype=float32)
    """
    return tf.stack([tf.constant(1.0) if f.spec.type in MEDIA else tf.cast(present(f, raw[n]), tf.float32)
                     for n, f in features.items()])


def decode_value(feature, tfds_feature, value, context, *, training=False, rate=None):
    """TF op: one raw value -> the decoded tensor of `feature` (what its `decode` gives for the same file).

    Images are decoded by TFDS (uint8) and go through
    `ImageFeature.decode_tensor`; a video's sampled frames likewise; audio
    samples through `AudioFeature.decode_tensor` at `rate`; other inputs
    through their `decode`.

    Args:
        feature: the input's `mmkeras.data.feature.Feature` (adapted).
        tfds_feature: its TFDS feature.
        value: what `raw_value` gave.
        context: the example's name in error messages.
        training: random crops on.
        rate: audio only: the feature's sample rate (`audio_rate`).

    Example:

    >>> image = tfds.features.Image(shape=(None, None, 3))
    >>> png = tf.io.encode_png(tf.zeros([5, 5, 3], tf.uint8))
    >>> decode_value(pre.features["picture"], image, png, "input 'picture'").shape
    TensorShape([32, 32, 3])
    """
    kind = feature.spec.type
    if kind == "image":  # the encoded bytes too: pixels are scaled to floats exactly as for the file
        return feature.decode_tensor(tfds_feature.decode_example(value), context, training=training, encoded=value)
    if kind == "video":
        frame = tfds_feature.feature
        return feature.decode_tensor(value, context, training=training, decode_frame=frame.decode_example)
    if kind == "audio":
        return feature.decode_tensor(value, context, training=training, rate=rate)
    return decode_or_zeros(feature, value, context, training=training)


def class_positions(target, feature):
    """For each `ClassLabel` index, the index of its name among the target's classes.

    Example:

    >>> target = mmkeras.data.targets.make_target(spec.outputs["label"])
    >>> target.set_state({"classes": ["b", "a"]})
    >>> class_positions(target, tfds.features.ClassLabel(names=["a", "b"]))
    [1, 0]
    """
    lookup = {c: i for i, c in enumerate(target.classes)}
    return [lookup[name] for name in feature.names]


def target_value(target, feature, value, context):
    """TF op: one example's TFDS value of an output -> (encoded target, sample weight).

    Class targets: the `ClassLabel` index becomes the index of its name in
    `target.classes` (int32; float32 0/1 for binary), weighted by its
    class weight. Numeric targets: float32 (standardised for regression),
    weight 1; a NaN fails naming the example.

    Example:

    >>> target = mmkeras.data.targets.make_target(spec.outputs["label"])
    >>> target.set_state({"classes": ["a", "b"], "class_weights": [0.5, 2.0]})
    >>> y, w = target_value(target, tfds.features.ClassLabel(names=["a", "b"]), tf.constant(1, tf.int64), "")
    >>> int(y), float(w)
    (1, 2.0)
    """
    if isinstance(target, ClassTarget):
        index = tf.gather(tf.constant(class_positions(target, feature), tf.int32), value)
        weights = target.class_weights or [1.0] * len(target.classes)
        weight = tf.gather(tf.constant(weights, tf.float32), index)
        return (tf.cast(index, tf.float32) if isinstance(target, BinaryTarget) else index), weight
    y = tf.cast(value, tf.float32)
    check = tf.debugging.Assert(tf.math.is_finite(y), [context, "is not a finite number"], name="check_target")
    with tf.control_dependencies([check]):
        y = tf.identity(y)
    if isinstance(target, RegressionTarget):
        y = (y - target.mean) / target.std
    return y, tf.constant(1.0)
