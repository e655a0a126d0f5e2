"""Audio features equal to librosa's, as TensorFlow ops: spectrogram, log-mel, MFCC, chroma.

Windows, filterbanks and the DCT matrix are built with librosa/scipy in
Python when an `AudioFrontend` is created and enter the graph as constants;
the per-batch work is `tf.signal.stft`, a matrix product and a few
element-wise ops, so it runs in `tf.data`, in a SavedModel and under XLA.
"""

import math

import numpy as np
import tensorflow as tf

FEATURES = ("waveform", "spectrogram", "log_mel", "mfcc", "chroma")
_AMIN = 1e-10  # librosa.power_to_db's floor
_TINY = float(np.finfo(np.float32).tiny)  # librosa.util.normalize's threshold for float32


def stft_window(n_fft, win_length=None, window="hann"):
    """librosa's STFT window: `get_window(window, win_length, fftbins=True)` centred in `n_fft`.

    Example:

    >>> stft_window(8, 4)
    array([0. , 0. , 0. , 0.5, 1. , 0.5, 0. , 0. ])
    """
    import librosa

    win = librosa.filters.get_window(window, win_length or n_fft, fftbins=True)
    return librosa.util.pad_center(win, size=n_fft)


def mel_filterbank(*, sample_rate, n_fft, n_mels, fmin=0.0, fmax=None):
    """librosa's mel filterbank (Slaney scale and norm), `[n_fft // 2 + 1, n_mels]` float32.

    Example:

    >>> mel_filterbank(sample_rate=8000, n_fft=256, n_mels=32).shape
    (129, 32)
    """
    import librosa

    basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return np.ascontiguousarray(basis.T.astype(np.float32))


def chroma_filterbank(*, sample_rate, n_fft, n_chroma=12, tuning=0.0):
    """librosa's chroma filterbank (`librosa.filters.chroma`), `[n_fft // 2 + 1, n_chroma]` float32.

    Example:

    >>> chroma_filterbank(sample_rate=8000, n_fft=256).shape
    (129, 12)
    """
    import librosa

    basis = librosa.filters.chroma(sr=sample_rate, n_fft=n_fft, n_chroma=n_chroma, tuning=tuning)
    return np.ascontiguousarray(basis.T.astype(np.float32))


def dct_matrix(n_mels, n_mfcc):
    """DCT-II with orthonormal scaling as librosa's MFCC applies it: `[n_mels, n_mfcc]` float32.

    Example:

    >>> dct_matrix(32, 13).shape
    (32, 13)
    """
    import scipy.fft

    return np.ascontiguousarray(scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc].T
                                .astype(np.float32))


def num_frames(num_samples, *, n_fft, hop_length, center=True):
    """Frames librosa's STFT gives for `num_samples` samples (`center=True`: n_fft // 2 zeros each side).

    Example:

    >>> num_frames(4000, n_fft=256, hop_length=64), num_frames(4000, n_fft=256, hop_length=64, center=False)
    (63, 59)
    """
    if center:
        num_samples += 2 * (n_fft // 2)
    return 1 + (num_samples - n_fft) // hop_length


def stft_power(waveforms, *, n_fft, hop_length, window, center=True, power=2.0):
    """`|librosa.stft(y, center=center, pad_mode="constant")| ** power` as `[batch, frames, n_fft // 2 + 1]`.

    Like librosa, the FFT runs in float64 and its result is stored as
    complex64 (a float32 FFT is up to 10x further from librosa, beyond 1e-5
    for some windows and powers); the result is float32.

    Args:
        waveforms: float32 `[batch, samples]`.
        n_fft, hop_length: as in librosa.
        window: the `[n_fft]` window from `stft_window`.
        center: pad `n_fft // 2` zeros on both sides first.
        power: exponent of the magnitude (2: power, 1: magnitude).

    Example:

    >>> tuple(stft_power(tf.zeros([2, 4000]), n_fft=256, hop_length=64, window=stft_window(256)).shape)
    (2, 63, 129)
    """
    if center:
        waveforms = tf.pad(waveforms, [[0, 0], [n_fft // 2, n_fft // 2]])
    frames = tf.cast(tf.signal.frame(waveforms, n_fft, hop_length), tf.float64) * tf.constant(window, tf.float64)
    stft = tf.cast(tf.signal.rfft(frames), tf.complex64)  # as librosa stores it
    squared = tf.math.square(tf.math.real(stft)) + tf.math.square(tf.math.imag(stft))
    if power == 2.0:
        return squared
    if power == 1.0:
        return tf.math.sqrt(squared)
    return tf.math.pow(squared, power / 2.0)


def power_to_db(x, top_db=80.0):
    """`librosa.power_to_db(x, ref=1.0, amin=1e-10, top_db=top_db)` per example (axis 0 is the batch).

    Example:

    >>> power_to_db(tf.constant([[1.0, 0.01, 1e-12]]), top_db=30.0).numpy()
    array([[  0., -20., -30.]], dtype=float32)
    """
    db = (10.0 / math.log(10.0)) * tf.math.log(tf.maximum(x, _AMIN))
    if top_db is not None:
        peak = tf.reduce_max(db, axis=list(range(1, db.shape.rank)), keepdims=True)
        db = tf.maximum(db, peak - top_db)
    return db


def normalize_max(x):
    """`librosa.util.normalize(x, norm=np.inf)` over the last axis (all-zero frames stay zero).

    Example:

    >>> normalize_max(tf.constant([[1.0, -4.0], [0.0, 0.0]])).numpy()
    array([[ 0.25, -1. ], [ 0. , 0. ]], dtype=float32)
    """
    length = tf.reduce_max(tf.abs(x), axis=-1, keepdims=True)
    return x / tf.where(length < _TINY, tf.ones_like(length), length)


class AudioFrontend:
    """One audio feature with fixed settings: `frontend(waveforms) -> [batch, frames, bins]`.

    Every feature equals librosa computed clip by clip (float32, relative
    error below 1e-5), with `S = |stft(y, n_fft, hop_length, win_length,
    window, center, pad_mode="constant")| ** power`:

    * `waveform`: the samples as `[batch, samples, 1]`.
    * `spectrogram`: `power_to_db(S, top_db)`, `[frames, n_fft // 2 + 1]`.
    * `log_mel`: `power_to_db(melspectrogram(S=S, n_mels, fmin, fmax), top_db)`.
    * `mfcc`: `librosa.feature.mfcc(S=<log_mel>, n_mfcc)` (DCT-II, ortho).
    * `chroma`: `chroma_stft(S=S, n_chroma, tuning)` (per-frame max norm);
      tuning is fixed (librosa estimates it per clip when `tuning=None`).

    With `to_db=False`, spectrogram and log_mel return `S` and the mel
    power without the dB step (`librosa.feature.melspectrogram`).

    Args:
        features: one of `FEATURES`.
        sample_rate: Hz (mel and chroma filters).
        n_fft, hop_length, win_length, window, center, power: the STFT.
        n_mels, fmin, fmax: the mel filterbank (log_mel, mfcc).
        n_mfcc: coefficients kept (mfcc), at most `n_mels`.
        n_chroma, tuning: chroma bins and tuning in fractions of a bin.
        top_db: floor at each clip's peak minus `top_db` dB; None for none.
        to_db: False: spectrogram/log_mel as power, not dB.

    Example:

    >>> frontend = AudioFrontend("mfcc", sample_rate=8000, n_fft=256, hop_length=64, n_mels=40, n_mfcc=13)
    >>> frontend(tf.zeros([2, 8000])).shape
    TensorShape([2, 126, 13])
    """

    def __init__(self, features="log_mel", *, sample_rate, n_fft, hop_length=None, win_length=None,
                 window="hann", center=True, power=2.0, n_mels=128, fmin=0.0, fmax=None, n_mfcc=20,
                 n_chroma=12, tuning=0.0, top_db=80.0, to_db=True):
        if features not in FEATURES:
            raise ValueError(f"features must be one of {', '.join(FEATURES)}, got {features!r}")
        win_length = win_length or n_fft
        if win_length > n_fft:
            raise ValueError(f"win_length must be at most n_fft={n_fft}, got {win_length}")
        if features == "mfcc" and n_mfcc > n_mels:
            raise ValueError(f"n_mfcc must be at most n_mels={n_mels}, got {n_mfcc}")
        if power <= 0:
            raise ValueError(f"power must be positive, got {power}")
        self.features, self.sample_rate, self.n_fft = features, sample_rate, n_fft
        self.hop_length = hop_length or win_length // 4
        self.win_length, self.window, self.center, self.power = win_length, window, center, power
        self.n_mels, self.fmin, self.fmax, self.n_mfcc = n_mels, fmin, fmax, n_mfcc
        self.n_chroma, self.tuning, self.top_db, self.to_db = n_chroma, tuning, top_db, to_db
        self.window_array = None if features == "waveform" else stft_window(n_fft, win_length, window)
        self.filterbank = None
        if features in ("log_mel", "mfcc"):
            self.filterbank = mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels,
                                             fmin=fmin, fmax=fmax)
        elif features == "chroma":
            self.filterbank = chroma_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_chroma=n_chroma,
                                                tuning=tuning)
        self.dct = dct_matrix(n_mels, n_mfcc) if features == "mfcc" else None

    @property
    def num_bins(self):
        """Size of the last axis of the output."""
        return {"waveform": 1, "spectrogram": self.n_fft // 2 + 1, "log_mel": self.n_mels,
                "mfcc": self.n_mfcc, "chroma": self.n_chroma}[self.features]

    def output_shape(self, num_samples):
        """`(frames, bins)` for clips of `num_samples` samples (None stays None)."""
        if self.features == "waveform":
            return (num_samples, 1)
        if num_samples is None:
            return (None, self.num_bins)
        frames = num_frames(num_samples, n_fft=self.n_fft, hop_length=self.hop_length, center=self.center)
        if frames < 1:
            raise ValueError(f"{num_samples} samples are fewer than n_fft={self.n_fft} with center=False")
        return (frames, self.num_bins)

    def __call__(self, waveforms):
        waveforms = tf.convert_to_tensor(waveforms, tf.float32)
        single = waveforms.shape.rank == 1
        if single:
            waveforms = waveforms[None]
        out = self._batch(waveforms)
        return out[0] if single else out

    def _batch(self, waveforms):
        if self.features == "waveform":
            return waveforms[..., None]
        power = stft_power(waveforms, n_fft=self.n_fft, hop_length=self.hop_length, window=self.window_array,
                           center=self.center, power=self.power)
        if self.features == "spectrogram":
            return power_to_db(power, self.top_db) if self.to_db else power
        mixed = tf.tensordot(power, tf.constant(self.filterbank), axes=1)
        if self.features == "chroma":
            return normalize_max(mixed)
        if self.features == "log_mel" and not self.to_db:
            return mixed
        db = power_to_db(mixed, self.top_db)
        if self.features == "mfcc":
            return tf.tensordot(db, tf.constant(self.dct), axes=1)
        return db


def log_mel_spectrogram(waveforms, *, sample_rate, n_fft, hop_length, n_mels, fmin=0.0, fmax=None,
                        top_db=80.0, filterbank=None, win_length=None, window="hann", center=True, power=2.0):
    """Log-mel spectrogram in dB that equals librosa's.

    Matches `librosa.power_to_db(librosa.feature.melspectrogram(y=w, sr=...,
    n_fft=..., hop_length=..., n_mels=..., fmin=..., fmax=...), top_db=...)`
    computed clip by clip (centred frames with zero padding, periodic Hann
    window, power 2, Slaney mel filters, `ref=1.0`, `amin=1e-10`).

    Args:
        waveforms: float32 `[batch, samples]` (or `[samples]`).
        sample_rate, n_fft, hop_length, n_mels, fmin, fmax: as in librosa.
        top_db: floor each clip at its peak minus `top_db` dB; None for none.
        filterbank: optional precomputed `mel_filterbank(...)`.
        win_length, window, center, power: as in librosa.

    Returns:
        float32 `[batch, frames, n_mels]` (`1 + samples // hop_length` frames when centred).

    Example:

    >>> x = tf.random.normal([2, 8000])
    >>> log_mel_spectrogram(x, sample_rate=8000, n_fft=256, hop_length=64, n_mels=40).shape
    TensorShape([2, 126, 40])
    """
    frontend = AudioFrontend("log_mel", sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length,
                             win_length=win_length, window=window, center=center, power=power,
                             n_mels=n_mels, fmin=fmin, fmax=fmax, top_db=top_db)
    if filterbank is not None:
        frontend.filterbank = np.asarray(filterbank, np.float32)
    return frontend(waveforms)


def spec_augment(features, *, time_masks=0, time_mask_width=0, freq_masks=0, freq_mask_width=0, seed=None):
    """SpecAugment-style masking: random time and frequency stripes set to 0, per example.

    Each mask has a random width in `[0, width]` (at most the axis size) and
    a random start; stripes may overlap. Only for training.

    Args:
        features: `[batch, frames, bins]` (standardised, so 0 is the training mean).
        time_masks, time_mask_width: stripes along axis 1 and their largest width.
        freq_masks, freq_mask_width: stripes along axis 2 and their largest width.
        seed: optional op seed.

    Returns:
        A tensor like `features`.

    Example:

    >>> masked = spec_augment(tf.ones([4, 100, 40]), time_masks=2, time_mask_width=10)
    """
    keep = tf.ones_like(features)
    for axis, count, width in ((1, time_masks, time_mask_width), (2, freq_masks, freq_mask_width)):
        size = features.shape[axis]
        if not count or not width or size is None:
            continue
        batch = tf.shape(features)[0]
        widths = tf.random.uniform([batch, count, 1], 0, min(width, size) + 1, tf.int32, seed=seed)
        starts = tf.cast(tf.random.uniform([batch, count, 1], seed=seed)
                         * tf.cast(size - widths + 1, tf.float32), tf.int32)
        positions = tf.range(size)[None, None, :]
        masked = tf.reduce_any((positions >= starts) & (positions < starts + widths), axis=1)  # [batch, size]
        stripe = tf.cast(tf.logical_not(masked), features.dtype)
        keep *= stripe[:, :, None] if axis == 1 else stripe[:, None, :]
    return features * keep
