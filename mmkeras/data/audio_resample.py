"""In-graph polyphase resampling equal to `scipy.signal.resample_poly` (librosa's `res_type="polyphase"`).

The file's sample rate is only known when the WAV is decoded, so the
rational factor `up / down`, the Kaiser-windowed sinc filter (as
`scipy.signal.firwin(20 * max(up, down) + 1, 1 / max(up, down),
window=("kaiser", 5.0))`) and the taps each output sample needs are all
computed with TensorFlow ops. Only the output samples that are kept are
computed, so cropping a long recording costs no more than its kept part.
"""

import math

import tensorflow as tf

KAISER_BETA = 5.0


def resample_factors(rate, target):
    """`(up, down)`, int64 scalars: `target / rate` in lowest terms (rates are positive).

    Example:

    >>> [int(f) for f in resample_factors(44100, 16000)]
    [160, 441]
    """
    rate, target = tf.cast(rate, tf.int64), tf.cast(target, tf.int64)
    gcd, _ = tf.while_loop(lambda a, b: b > 0, lambda a, b: (b, a % b), (rate, target))
    return target // gcd, rate // gcd


def resampled_length(length, up, down):
    """`ceil(length * up / down)`: samples `resample_poly` returns.

    Example:

    >>> int(resampled_length(44100, 160, 441))   # one second at 44.1 kHz -> 16 kHz
    16000
    """
    length = tf.cast(length, tf.int64)
    return (length * up + down - 1) // down


def polyphase_filter(up, down):
    """scipy's `resample_poly` filter for the factors `up / down`: float32 `[20 * max(up, down) + 1]`.

    `firwin` with a Kaiser window (beta 5), normalised to unit sum, computed
    in float64, cast to float32 and multiplied by `up`, as scipy does for
    float32 input.

    Example:

    >>> tuple(polyphase_filter(tf.constant(2, "int64"), tf.constant(3, "int64")).shape)
    (61,)
    """
    max_rate = tf.maximum(up, down)
    half_len = 10 * max_rate
    m = tf.cast(tf.range(-half_len, half_len + 1), tf.float64)
    cutoff = 1.0 / tf.cast(max_rate, tf.float64)
    arg = math.pi * cutoff * m
    sinc = tf.where(m == 0, tf.ones_like(m), tf.math.sin(arg) / tf.where(m == 0, tf.ones_like(arg), arg))
    ramp = m / tf.cast(half_len, tf.float64)
    window = (tf.math.bessel_i0(KAISER_BETA * tf.math.sqrt(tf.maximum(1.0 - ramp * ramp, 0.0)))
              / tf.math.bessel_i0(tf.constant(KAISER_BETA, tf.float64)))
    h = cutoff * sinc * window
    h = tf.cast(h / tf.reduce_sum(h), tf.float32)
    return h * tf.cast(up, tf.float32)


def resample_poly_segment(wave, up, down, start, count):
    """Output samples `[start, start + count)` of `resample_poly(wave, up, down)`, in-graph.

    Output sample `n` is `sum_k wave[k] * h[n * down + half_len - k * up]`
    over the filter `h` of `polyphase_filter` (zero outside it and outside
    the wave), the formula `upfirdn` evaluates.

    Args:
        wave: float32 `[samples]`.
        up, down: int64 scalars from `resample_factors` (coprime, not both 1).
        start, count: the output samples wanted (int scalars).

    Returns:
        float32 `[count]`.

    Example:

    >>> up, down = resample_factors(16000, 8000)
    >>> resample_poly_segment(tf.ones([160]), up, down, 0, 80).shape
    TensorShape([80])
    """
    h = polyphase_filter(up, down)
    taps_len = tf.shape(h, out_type=tf.int64)[0]
    half_len = (taps_len - 1) // 2
    length = tf.shape(wave, out_type=tf.int64)[0]
    n = tf.cast(start, tf.int64) + tf.range(tf.cast(count, tf.int64))
    p = n * down + half_len                      # filter index of input sample 0
    taps = (taps_len + up - 1) // up             # input samples under the filter, at most
    k = (p // up)[:, None] - tf.range(taps)[None, :]
    index = p[:, None] - k * up
    valid = (k >= 0) & (k < length) & (index >= 0) & (index < taps_len)
    samples = tf.gather(tf.pad(wave, [[0, 1]]), tf.clip_by_value(k, 0, length))  # safe for an empty wave
    weights = tf.gather(h, tf.clip_by_value(index, 0, taps_len - 1))
    return tf.reduce_sum(tf.where(valid, samples * weights, 0.0), axis=1)
