"""Video encoders (over `[frames, height, width, channels]` clips)."""

import keras

from mmkeras.encoders.registry import ENCODERS, default_encoder, register_encoder
from mmkeras.errors import SpecError

POOLINGS = ("mean", "attention", "gru")


def _frame_model(spec, feature, frame_encoder):
    """The image encoder named in `frame_encoder` as a model over one frame (`feature.frame_feature` builds its input)."""
    options = dict(frame_encoder or {})
    name = options.pop("type", None) or default_encoder("image")
    known = ENCODERS.names_for("image")
    if name not in known:
        raise SpecError(f"Input {spec.name!r}: frame_encoder type {name!r} is not one of {', '.join(known)}")
    allowed = ENCODERS.options_for("image", name)
    for key in options:
        if key not in allowed:
            raise SpecError(f"Input {spec.name!r}: {key!r} is not an option of the image encoder {name!r}. "
                            f"Allowed: {', '.join(allowed) or 'none'}")
    frame_feature = feature.frame_feature(name, options)
    frame = keras.Input(shape=(spec.height, spec.width, spec.channels), name="frame")
    encoded = ENCODERS.get("image", name)(frame, frame_feature.spec, frame_feature, **options)
    return keras.Model(frame, encoded, name="frame_encoder")


@register_encoder("video", "frames_cnn")
def frames_cnn(x, spec, feature, *, frame_encoder=None, pooling="mean", gru_units=64, dropout=0.0):
    """An image encoder applied to every frame, then pooled over time.

    Each frame goes through the same image encoder (`TimeDistributed`), giving
    `[frames, units]`; the frames are then pooled: `mean` (the average),
    `attention` (a learned softmax weight per frame, then the weighted sum)
    or `gru` (the last state of a GRU over the frames, in order).

    Args:
        x: the clip, `[batch, frames, height, width, channels]` float32 in [0, 1].
        spec: the video input's spec.
        feature: its `VideoFeature`.
        frame_encoder: the image encoder and its options, e.g.
            `{type: cnn, filters: [16, 32], dense_units: 64}` (default: the
            default image encoder with its defaults).
        pooling: "mean", "attention" or "gru".
        gru_units: GRU size (pooling "gru").
        dropout: dropout rate after pooling.

    Returns:
        One vector per clip.

    Example:

    >>> clip = mmkeras.load_spec({"spec_version": 1, "name": "v", "outputs": {"y": {"type": "binary", "column": "y"}},
    ...     "inputs": {"clip": {"type": "video", "column": "frames", "frames": 4, "height": 8, "width": 8}}}).inputs["clip"]
    >>> feature = mmkeras.data.video.VideoFeature(clip)
    >>> encoded = frames_cnn(keras.Input(feature.shape), clip, feature, pooling="gru", gru_units=8,
    ...                      frame_encoder={"type": "cnn", "filters": [4], "dense_units": 8})
    >>> tuple(encoded.shape)
    (None, 8)
    """
    if pooling not in POOLINGS:
        raise SpecError(f"Input {spec.name!r}: pooling {pooling!r} is not one of {', '.join(POOLINGS)}")
    per_frame = keras.layers.TimeDistributed(_frame_model(spec, feature, frame_encoder), name="per_frame")(x)
    if pooling == "mean":
        x = keras.layers.GlobalAveragePooling1D(name="temporal_mean")(per_frame)
    elif pooling == "attention":
        scores = keras.layers.Dense(1, name="attention_score")(per_frame)           # [b, frames, 1]
        weights = keras.layers.Softmax(axis=1, name="attention_weights")(scores)
        x = keras.layers.Dot(axes=1, name="attention_pool")([weights, per_frame])  # [b, 1, units]
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        # cuDNN kernels cannot be XLA-compiled: Keras would turn XLA off for the whole model.
        x = keras.layers.GRU(int(gru_units), use_cudnn=False, name="gru")(per_frame)
    if dropout:
        x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    return x
