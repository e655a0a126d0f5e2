"""Audio inputs: WAV decoded in-graph, fixed length, log-mel features equal to librosa's."""

import numpy as np
import tensorflow as tf

from mmkeras.data.feature import Feature


def is_wav_bytes(data):
    """Scalar bool tensor: do the bytes start like a RIFF/WAVE file?"""
    return tf.logical_and(tf.strings.substr(data, 0, 4) == b"RIFF",
                          tf.strings.substr(data, 8, 4) == b"WAVE")


def decode_wav(data, *, sample_rate, num_samples, crop="start", context=""):
    """Decodes WAV bytes into a mono float32 waveform of exactly `num_samples`.

    Channels are averaged to mono. A clip at another sample rate is an error
    (resampling comes later). Shorter clips are zero-padded and longer ones
    cropped: `crop="start"` keeps (and pads after) the beginning,
    `crop="center"` keeps the middle (and pads both sides evenly).

    Args:
        data: scalar `tf.string` holding a 16-bit PCM WAV file.
        sample_rate: expected rate in Hz.
        num_samples: output length.
        crop: "start" or "center".
        context: scalar string naming the row/column/file, shown in errors.

    Returns:
        float32 tensor of shape `[num_samples]` in [-1, 1].

    Example:

    >>> wav = tf.audio.encode_wav(tf.zeros([100, 2]), 8000)
    >>> decode_wav(wav, sample_rate=8000, num_samples=160).shape
    TensorShape([160])
    """
    check = tf.debugging.Assert(is_wav_bytes(data),
                                ["Not a WAV file (corrupt or wrong file type):", context],
                                name="check_wav_bytes")
    with tf.control_dependencies([check]):  # tf.data graphs do not order ops by themselves
        audio, rate = tf.audio.decode_wav(data)
    check = tf.debugging.Assert(
        tf.equal(rate, sample_rate),
        ["Sample rate", rate, "differs from the spec's sample_rate", sample_rate,
         "(resampling is not supported yet; convert the file or change the spec):", context],
        name="check_sample_rate")
    with tf.control_dependencies([check]):
        wave = tf.reduce_mean(audio, axis=-1)
    length = tf.shape(wave)[0]
    excess = tf.maximum(length - num_samples, 0)
    missing = tf.maximum(num_samples - length, 0)
    if crop == "center":
        wave = wave[excess // 2: excess // 2 + num_samples]
        wave = tf.pad(wave, [[missing // 2, missing - missing // 2]])
    elif crop == "start":
        wave = tf.pad(wave[:num_samples], [[0, missing]])
    else:
        raise ValueError(f"crop must be 'start' or 'center', got {crop!r}")
    wave.set_shape([num_samples])
    return wave


def mel_filterbank(*, sample_rate, n_fft, n_mels, fmin=0.0, fmax=None):
    """librosa's mel filterbank (Slaney scale and norm), `[n_fft // 2 + 1, n_mels]` float32."""
    import librosa

    basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return np.ascontiguousarray(basis.T.astype(np.float32))


def log_mel_spectrogram(waveforms, *, sample_rate, n_fft, hop_length, n_mels,
                        fmin=0.0, fmax=None, top_db=80.0, filterbank=None):
    """Log-mel spectrogram in dB that equals librosa's.

    Matches `librosa.power_to_db(librosa.feature.melspectrogram(y=w, sr=...,
    n_fft=..., hop_length=..., n_mels=..., fmin=..., fmax=...), top_db=...)`
    computed clip by clip (centered frames with zero padding, periodic Hann
    window, power 2, Slaney mel filters, `ref=1.0`, `amin=1e-10`).

    Args:
        waveforms: float32 `[batch, samples]` (or `[samples]`).
        sample_rate, n_fft, hop_length, n_mels, fmin, fmax: as in librosa.
        top_db: floor each clip at its peak minus `top_db` dB; None for none.
        filterbank: optional precomputed `mel_filterbank(...)`.

    Returns:
        float32 `[batch, 1 + samples // hop_length, n_mels]`.

    Example:

    >>> x = tf.random.normal([2, 8000])
    >>> log_mel_spectrogram(x, sample_rate=8000, n_fft=256, hop_length=64, n_mels=40).shape
    TensorShape([2, 126, 40])
    """
    if filterbank is None:
        filterbank = mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    waveforms = tf.convert_to_tensor(waveforms, tf.float32)
    single = waveforms.shape.rank == 1
    if single:
        waveforms = waveforms[None]
    padded = tf.pad(waveforms, [[0, 0], [n_fft // 2, n_fft // 2]])
    stft = tf.signal.stft(padded, frame_length=n_fft, frame_step=hop_length, fft_length=n_fft,
                          window_fn=tf.signal.hann_window, pad_end=False)
    power = tf.math.square(tf.math.real(stft)) + tf.math.square(tf.math.imag(stft))
    mel = tf.tensordot(power, tf.constant(filterbank), axes=1)
    db = 10.0 * tf.math.log(tf.maximum(mel, 1e-10)) / tf.math.log(10.0)
    if top_db is not None:
        peak = tf.reduce_max(db, axis=[1, 2], keepdims=True)
        db = tf.maximum(db, peak - top_db)
    return db[0] if single else db


class AudioFeature(Feature):
    """Preprocessing of an audio input: WAV bytes -> normalised log-mel `[frames, n_mels]`.

    `decode` (per clip) gives the fixed-length waveform; `transform` (per
    batch) computes the log-mel spectrogram and standardises each mel band
    with the mean and standard deviation adapted on (up to 2,000 clips of)
    the training split.
    """

    raw_dtype = tf.string
    is_file = True
    adapt_limit = 2000

    def __init__(self, spec):
        self.spec = spec
        self.shape = (spec.num_frames, spec.n_mels)
        self.decoded_shape = (spec.num_samples,)
        self.dtype = "float32"
        self.filterbank = mel_filterbank(sample_rate=spec.sample_rate, n_fft=spec.resolved_n_fft,
                                         n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax)
        self.mean = np.zeros([spec.n_mels], np.float32)
        self.std = np.ones([spec.n_mels], np.float32)

    def decode(self, data, context="", training=False):
        s = self.spec
        return decode_wav(data, sample_rate=s.sample_rate, num_samples=s.num_samples,
                          crop=s.crop, context=context)

    def features(self, waveforms):
        """Un-normalised log-mel in dB for a batch of waveforms."""
        s = self.spec
        return log_mel_spectrogram(waveforms, sample_rate=s.sample_rate, n_fft=s.resolved_n_fft,
                                   hop_length=s.resolved_hop_length, n_mels=s.n_mels,
                                   fmin=s.fmin, fmax=s.fmax, top_db=s.top_db,
                                   filterbank=self.filterbank)

    def transform(self, batch, training=False):
        return (self.features(batch) - self.mean) / self.std

    def adapt(self, column_values, dataset=None):
        """Per-band statistics from a dataset of decoded waveforms."""
        total, total_sq, count = 0.0, 0.0, 0
        for batch in dataset.take(self.adapt_limit).batch(64):
            feats = self.features(batch).numpy().astype(np.float64)
            total = total + feats.sum(axis=(0, 1))
            total_sq = total_sq + np.square(feats).sum(axis=(0, 1))
            count += feats.shape[0] * feats.shape[1]
        mean = total / count
        var = np.maximum(total_sq / count - np.square(mean), 0.0)
        self.mean = mean.astype(np.float32)
        self.std = np.maximum(np.sqrt(var), 1e-3).astype(np.float32)
        return self

    def get_state(self):
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def set_state(self, state):
        self.mean = np.asarray(state["mean"], np.float32)
        self.std = np.asarray(state["std"], np.float32)
