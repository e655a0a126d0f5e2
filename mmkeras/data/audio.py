"""Audio inputs: WAV decoded in-graph (mono, resampled, cropped, normalised), features equal to librosa's.

Per clip (`decode`): 16-bit PCM WAV bytes -> mono float32 waveform of
`duration` seconds at `sample_rate` (in-graph polyphase resampling when
`resample` is on), peak or RMS normalised. Per batch (`transform`): in
training only a random shift, gain and noise of the waveform
(`audio_augment`), the spec's `features` (`AudioFrontend`), optionally
normalised per clip (`feature_norm`), standardised per band with training
statistics, then SpecAugment masks in training only.

Other file formats (FLAC, OGG, MP3, 24-bit or float WAV...) are converted
once, at the pipeline edge, to 16-bit PCM WAV with soundfile
(`mmkeras.data.audio_files`); the SavedModel takes WAV bytes.
"""

import numpy as np
import tensorflow as tf

from mmkeras.layers.audio_frontend import AudioFrontend, log_mel_spectrogram, mel_filterbank, spec_augment
from mmkeras.data.audio_augment import augment_waves, clip_normalize
from mmkeras.data.audio_files import convert_column, to_wav_bytes
from mmkeras.data.audio_resample import resample_factors, resample_poly_segment, resampled_length
from mmkeras.data.feature import Feature

__all__ = ["AudioFeature", "decode_wav", "is_wav_bytes", "log_mel_spectrogram", "mel_filterbank", "to_wav_bytes"]
CROPS = ("start", "center", "random")
NORMALIZATIONS = ("none", "peak", "rms")
RMS_TARGET = 0.1  # -20 dBFS


def _head(data):
    """The first 36 bytes, zero-padded (so short data never makes `substr` fail)."""
    return tf.strings.join([tf.strings.substr(data, 0, 36), b"\x00" * 36])


def is_wav_bytes(data):
    """Scalar bool tensor: do the bytes start like a RIFF/WAVE file?

    Example:

    >>> bool(is_wav_bytes(tf.audio.encode_wav(tf.zeros([8, 1]), 8000))), bool(is_wav_bytes(b"ID3 mp3"))
    (True, False)
    """
    head = _head(data)
    return tf.logical_and(tf.strings.substr(head, 0, 4) == b"RIFF", tf.strings.substr(head, 8, 4) == b"WAVE")


def is_pcm16_wav(data):
    """Scalar bool tensor: False when a `fmt ` chunk right after the header says other than 16-bit PCM.

    `tf.audio.decode_wav` reads 16-bit PCM only; this check lets the error
    name the file. (A file with other chunks first is left to the decoder.)

    Example:

    >>> bool(is_pcm16_wav(tf.audio.encode_wav(tf.zeros([8, 1]), 8000)))
    True
    """
    head = _head(data)
    pcm16 = tf.logical_and(tf.strings.substr(head, 20, 2) == b"\x01\x00", tf.strings.substr(head, 34, 2) == b"\x10\x00")
    return tf.logical_or(tf.strings.substr(head, 12, 4) != b"fmt ", pcm16)


def _window(length, num_samples, crop, training):
    """(offset into the clip, samples taken, zeros before) for a clip of `length` samples."""
    excess = tf.maximum(length - num_samples, 0)
    missing = tf.maximum(num_samples - length, 0)
    if crop == "random" and training:
        offset = tf.random.uniform([], 0, excess + 1, excess.dtype)
        before = tf.random.uniform([], 0, missing + 1, missing.dtype)
    elif crop in ("center", "random"):
        offset, before = excess // 2, missing // 2
    elif crop == "start":
        offset, before = tf.zeros_like(excess), tf.zeros_like(missing)
    else:
        raise ValueError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
    return offset, tf.minimum(length, num_samples), before


def normalize_wave(wave, normalize):
    """`peak`: largest |sample| 1; `rms`: root mean square 0.1 (-20 dBFS); `none`; silence stays 0.

    Example:

    >>> normalize_wave(tf.constant([0.1, -0.5]), "peak").numpy()
    array([ 0.2, -1. ], dtype=float32)
    """
    if normalize == "none":
        return wave
    if normalize == "peak":
        level, target = tf.reduce_max(tf.abs(wave)), 1.0
    elif normalize == "rms":
        level, target = tf.sqrt(tf.reduce_mean(tf.square(wave))), RMS_TARGET
    else:
        raise ValueError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {normalize!r}")
    return tf.where(level > 1e-8, wave * (target / tf.maximum(level, 1e-8)), wave)


def decode_wav(data, *, sample_rate, num_samples, crop="start", context="", resample=False,
               normalize="none", training=False):
    """Decodes WAV bytes into a mono float32 waveform of exactly `num_samples` at `sample_rate`.

    Channels are averaged to mono. A clip at another rate is resampled
    in-graph when `resample` (equal to `librosa.resample(res_type=
    "polyphase")`), else it is an error. Shorter clips are zero-padded and
    longer ones cropped: `start` keeps (and pads after) the beginning,
    `center` the middle (padding both sides evenly), `random` a random part
    (and random padding) when `training`, else the middle. `normalize` then
    scales the kept samples (padding excluded).

    Args:
        data: scalar `tf.string` holding a 16-bit PCM WAV file.
        sample_rate: the rate of the output in Hz.
        num_samples: output length.
        crop: "start", "center" or "random".
        context: scalar string naming the row/column/file, shown in errors.
        resample: resample other rates instead of failing.
        normalize: "none", "peak" or "rms" (see `normalize_wave`).
        training: allows the random crop.

    Returns:
        float32 tensor of shape `[num_samples]`.

    Example:

    >>> wav = tf.audio.encode_wav(tf.zeros([100, 2]), 8000)
    >>> decode_wav(wav, sample_rate=8000, num_samples=160).shape
    TensorShape([160])
    """
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
    check = tf.debugging.Assert(is_wav_bytes(data),
                                ["Not a WAV file (corrupt or wrong file type):", context],
                                name="check_wav_bytes")
    with tf.control_dependencies([check]):  # tf.data graphs do not order ops by themselves
        check = tf.debugging.Assert(
            is_pcm16_wav(data),
            ["Not a 16-bit PCM WAV file (convert it, e.g. with mmkeras.data.audio.to_wav_bytes):", context],
            name="check_wav_format")
    with tf.control_dependencies([check]):
        audio, rate = tf.audio.decode_wav(data)
    return prepare_wave(audio, rate, sample_rate=sample_rate, num_samples=num_samples, crop=crop, context=context,
                        resample=resample, normalize=normalize, training=training)


def prepare_wave(samples, rate, *, sample_rate, num_samples, crop="start", context="", resample=False,
                 normalize="none", training=False):
    """Decoded samples `[n]` or `[n, channels]` at `rate` Hz -> the waveform `decode_wav` gives for them.

    `decode_wav` runs it on the decoded file; audio tensors (a TFDS
    `Audio`) go through it directly, so both give the same values.
    Integer samples are 16-bit values, scaled by 1/32768 as
    `tf.audio.decode_wav` scales them; float samples are used as they are.
    Channels are averaged, then the clip is checked or resampled, cropped or
    padded and normalised as `decode_wav` says.

    Args:
        samples: `[n]` or `[n, channels]` integer or float samples.
        rate: their sample rate (int or scalar tensor).
        sample_rate, num_samples, crop, context, resample, normalize, training: as for `decode_wav`.

    Returns:
        float32 tensor of shape `[num_samples]`.

    Example:

    >>> samples = tf.constant([0, 16384, -16384, 8192], tf.int16)
    >>> from mmkeras.data.sources.tfds.serving import wav_bytes
    >>> wav = wav_bytes(samples.numpy(), 8000)
    >>> from_tensor = prepare_wave(samples, 8000, sample_rate=8000, num_samples=6)
    >>> bool(tf.reduce_all(from_tensor == decode_wav(wav, sample_rate=8000, num_samples=6)))
    True
    """
    samples, rate = tf.convert_to_tensor(samples), tf.cast(rate, tf.int32)
    if samples.dtype.is_integer:
        samples = tf.cast(samples, tf.float32) / 32768.0
    wave = samples if samples.shape.rank == 1 else tf.reduce_mean(samples, axis=-1)
    length = tf.shape(wave)[0]
    if not resample:
        check = tf.debugging.Assert(
            tf.equal(rate, sample_rate),
            ["Sample rate", rate, "differs from the spec's sample_rate", sample_rate,
             "(set resample: true for in-graph resampling, or convert the file):", context],
            name="check_sample_rate")
        with tf.control_dependencies([check]):
            offset, take, before = _window(length, num_samples, crop, training)
            kept = wave[offset: offset + take]
    else:
        up, down = resample_factors(rate, sample_rate)
        same = tf.equal(up, down)
        length = tf.cast(tf.where(same, tf.cast(length, tf.int64), resampled_length(length, up, down)), tf.int32)
        offset, take, before = _window(length, num_samples, crop, training)
        kept = tf.cond(same, lambda: wave[offset: offset + take],
                       lambda: resample_poly_segment(wave, up, down, offset, take))
    kept = normalize_wave(kept, normalize)
    wave = tf.pad(kept, [[before, num_samples - take - before]])
    wave.set_shape([num_samples])
    return wave


class AudioFeature(Feature):
    """Preprocessing of an audio input: WAV bytes -> standardised features `[frames, bins]`.

    `decode` (per clip) gives the fixed-length waveform; `transform` (per
    batch) computes the spec's `features` and standardises each band (the
    last axis) with the mean and standard deviation adapted on (up to 2,000
    clips of) the training split; in training it then applies the spec's
    SpecAugment masks. Files that `tf.audio.decode_wav` cannot read are
    converted to WAV once when the table is read (`resolve`).

    Example:

    >>> feature = pre.features["sound"]
    >>> wave = feature.decode(tf.io.read_file(os.path.join(data_dir, splits["train"]["audio_path"].iloc[0])))
    >>> tuple(wave.shape), tuple(feature.transform(wave[None]).shape)
    ((4000,), (1, 63, 32))
    """

    raw_dtype = tf.string
    is_file = True
    adapt_limit = 2000

    def __init__(self, spec):
        self.spec = spec
        self.frontend = AudioFrontend(
            spec.features, sample_rate=spec.sample_rate, n_fft=spec.resolved_n_fft,
            hop_length=spec.resolved_hop_length, win_length=spec.win_length, window=spec.window,
            center=spec.center, power=spec.power, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax,
            n_mfcc=spec.n_mfcc, n_chroma=spec.n_chroma, tuning=spec.tuning, top_db=spec.top_db)
        self.shape = self.frontend.output_shape(spec.num_samples)
        self.decoded_shape = (spec.num_samples,)
        self.dtype = "float32"
        self.decode_is_random = spec.crop == "random"
        self.transform_is_random = spec.augment.enabled
        self.filterbank = self.frontend.filterbank
        self.mean = np.zeros([self.shape[-1]], np.float32)
        self.std = np.ones([self.shape[-1]], np.float32)
        self.converted = {}  # converted WAV path -> original file (for messages)

    def resolve(self, column, *, root, table=""):
        """Absolute paths, checked to exist; files that are not 16-bit PCM WAV are converted (cached)."""
        paths = super().resolve(column, root=root, table=table)
        return convert_column(paths, self.converted, table=table, column_name=self.spec.column)

    def describe(self, value):
        original = self.converted.get(value)
        return f"file {original} (converted to {value})" if original else f"file {value}"

    def decode(self, data, context="", training=False):
        s = self.spec
        return decode_wav(data, sample_rate=s.sample_rate, num_samples=s.num_samples, crop=s.crop,
                          context=context, resample=s.resample, normalize=s.normalize, training=training)

    def decode_tensor(self, samples, context="", training=False, *, rate=None):
        """Audio samples (e.g. a TFDS `Audio`: int16/int64 or float, `[n]` or `[n, c]`) -> what `decode` gives.

        Args:
            samples: the clip's samples (integers are 16-bit values).
            context: names the example in errors.
            training: allows the random crop.
            rate: their sample rate (default the spec's `sample_rate`).

        Example:

        >>> AudioFeature(spec.inputs["sound"]).decode_tensor(tf.zeros([100], tf.int16)).shape
        TensorShape([4000])
        """
        s = self.spec
        return prepare_wave(samples, s.sample_rate if rate is None else rate, sample_rate=s.sample_rate,
                            num_samples=s.num_samples, crop=s.crop, context=context, resample=s.resample,
                            normalize=s.normalize, training=training)

    def features(self, waveforms):
        """Un-standardised features (e.g. log-mel in dB, per-clip normalised with `feature_norm`) of waveforms."""
        return clip_normalize(self.frontend(waveforms), self.spec.feature_norm)

    def transform(self, batch, training=False):
        a = self.spec.augment
        if training and (a.time_shift or a.gain_db or a.noise):
            batch = augment_waves(batch, sample_rate=self.spec.sample_rate, time_shift=a.time_shift,
                                  gain_db=a.gain_db, noise=a.noise)
        out = (self.features(batch) - self.mean) / self.std
        if training and (a.time_masks or a.freq_masks):
            out = spec_augment(out, time_masks=a.time_masks, time_mask_width=a.time_mask_width,
                               freq_masks=a.freq_masks, freq_mask_width=a.freq_mask_width)
        return out

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
