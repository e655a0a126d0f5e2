"""Audio that transfers across speakers and microphones: per-clip feature normalisation, waveform augmentation.

`clip_normalize` runs in every pipeline and in the export (it is part of
`AudioFeature.transform`); `augment_waves` runs in training only, on a batch
of waveforms before the features are computed.
"""

import tensorflow as tf

FEATURE_NORMS = ("none", "clip_mean", "clip")


def clip_normalize(features, mode):
    """Per clip, each band (last axis) over its frames (axis 1): `clip_mean` subtracts the mean, `clip` also scales
    to unit standard deviation (cepstral mean and variance normalisation); `none` returns `features`.

    It removes what is constant over a clip: a speaker's or microphone's
    spectral tilt in log-mel or MFCC, the level of a waveform.

    Args:
        features: `[batch, frames, bands]` float tensor.
        mode: "none", "clip_mean" or "clip".

    Returns:
        A tensor like `features`.

    Example:

    >>> x = tf.constant([[[1.0, 10.0], [3.0, 30.0]]])
    >>> clip_normalize(x, "clip_mean").numpy().tolist(), clip_normalize(x, "clip").numpy().round(3).tolist()
    ([[[-1.0, -10.0], [1.0, 10.0]]], [[[-1.0, -1.0], [1.0, 1.0]]])
    """
    if mode == "none":
        return features
    if mode not in FEATURE_NORMS:
        raise ValueError(f"feature_norm must be one of {', '.join(FEATURE_NORMS)}, got {mode!r}")
    mean, variance = tf.nn.moments(features, axes=[1], keepdims=True)
    out = features - mean
    if mode == "clip":
        out = out * tf.math.rsqrt(variance + 1e-6)
    return out


def shift_waves(waves, shifts):
    """Each waveform `[batch, samples]` moved by its `shifts` (int `[batch]`, + later), zeros filling the gap.

    Example:

    >>> shift_waves(tf.constant([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), tf.constant([1, -1])).numpy().tolist()
    [[0.0, 1.0, 2.0], [2.0, 3.0, 0.0]]
    """
    n = tf.shape(waves)[1]
    source = tf.range(n)[None, :] - tf.cast(shifts, tf.int32)[:, None]  # [batch, samples]
    inside = (source >= 0) & (source < n)
    taken = tf.gather(waves, tf.clip_by_value(source, 0, n - 1), batch_dims=1)
    return tf.where(inside, taken, tf.zeros_like(taken))


def augment_waves(waves, *, sample_rate, time_shift=0.0, gain_db=0.0, noise=0.0, seed=None):
    """Random time shift, gain and white noise per waveform (training only); all off returns `waves`.

    Args:
        waves: `[batch, samples]` float32.
        sample_rate: Hz, to turn `time_shift` seconds into samples.
        time_shift: largest shift in seconds, either way (uniform).
        gain_db: largest gain in dB, up or down (uniform in dB).
        noise: largest standard deviation of added white noise (uniform per clip).
        seed: optional op seed.

    Returns:
        A tensor like `waves`.

    Example:

    >>> out = augment_waves(tf.ones([4, 800]), sample_rate=8000, time_shift=0.01, gain_db=6.0, noise=0.01)
    >>> tuple(out.shape), bool(tf.reduce_any(out != 1.0))
    ((4, 800), True)
    """
    batch = tf.shape(waves)[0]
    limit = int(round(time_shift * sample_rate))
    if limit > 0:
        waves = shift_waves(waves, tf.random.uniform([batch], -limit, limit + 1, tf.int32, seed=seed))
    if gain_db > 0:
        db = tf.random.uniform([batch, 1], -gain_db, gain_db, seed=seed)
        waves = waves * tf.pow(10.0, db / 20.0)
    if noise > 0:
        std = tf.random.uniform([batch, 1], 0.0, noise, seed=seed)
        waves = waves + std * tf.random.normal(tf.shape(waves), seed=seed)
    return waves
