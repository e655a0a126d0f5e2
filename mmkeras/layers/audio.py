"""An audio frontend as Keras layers, equal to librosa: `Spectrogram`, `MelSpectrogram`, `MFCC`, `Chroma`.

Each wraps `mmkeras.layers.audio_frontend.AudioFrontend`, the same code the
audio pipeline runs, so its output equals librosa's to a relative error
below 1e-5 in float32 (`keras.layers.MelSpectrogram` differs from librosa in
framing, window and filterbank). The input is `[batch, samples]` float32
waveforms, the output `[batch, frames, bins]`. Windows and filterbanks are
constants rebuilt from the config (no weights); the layers compile with XLA
and compute in float32 whatever the dtype policy. Defaults are librosa's.
"""

import keras
import tensorflow as tf

from mmkeras.layers.audio_frontend import AudioFrontend


class _AudioFrontendLayer(keras.layers.Layer):
    """Shared config and call of the frontend layers; subclasses set `features` and their own keys."""

    features = None
    _own_keys = ()
    _keys = ("sample_rate", "n_fft", "hop_length", "win_length", "window", "center", "power")

    def __init__(self, *, sample_rate=22050, n_fft=2048, hop_length=None, win_length=None, window="hann",
                 center=True, power=2.0, **kwargs):
        kwargs["dtype"] = "float32"  # an STFT in float16 loses too much
        options = {k: kwargs.pop(k) for k in ("n_mels", "fmin", "fmax", "n_mfcc", "n_chroma", "tuning",
                                               "top_db", "to_db") if k in kwargs}
        super().__init__(**kwargs)
        self.sample_rate, self.n_fft, self.hop_length = int(sample_rate), int(n_fft), hop_length
        self.win_length, self.window, self.center, self.power = win_length, window, bool(center), float(power)
        for key, value in options.items():
            setattr(self, key, value)
        self.frontend = AudioFrontend(self.features, sample_rate=self.sample_rate, n_fft=self.n_fft,
                                      hop_length=hop_length, win_length=win_length, window=window,
                                      center=self.center, power=self.power, **options)

    def call(self, inputs):
        return self.frontend(tf.cast(inputs, tf.float32))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(self.frontend.output_shape(input_shape[-1]))

    def get_config(self):
        keys = self._keys + type(self)._own_keys
        return {**super().get_config(), **{k: getattr(self, k) for k in keys}}


@keras.saving.register_keras_serializable(package="mmkeras")
class Spectrogram(_AudioFrontendLayer):
    """STFT magnitude to the `power`, in dB: `librosa.power_to_db(np.abs(librosa.stft(y, ...)) ** power)`.

    Args:
        sample_rate: Hz (kept for symmetry with the other layers).
        n_fft, hop_length (default win_length // 4), win_length (default n_fft),
            window, center, power: as `librosa.stft` and `librosa.feature.melspectrogram`.
        top_db: floor at each clip's peak minus `top_db` dB; None for none.
        to_db: False returns the spectrogram itself, not in dB.

    Example:

    >>> Spectrogram(n_fft=256, hop_length=64)(tf.zeros([2, 8000])).shape
    TensorShape([2, 126, 129])
    """

    features = "spectrogram"
    _own_keys = ("top_db", "to_db")

    def __init__(self, *, top_db=80.0, to_db=True, **kwargs):
        super().__init__(top_db=top_db, to_db=to_db, **kwargs)


@keras.saving.register_keras_serializable(package="mmkeras")
class MelSpectrogram(_AudioFrontendLayer):
    """Mel spectrogram in dB: `librosa.power_to_db(librosa.feature.melspectrogram(y, ...), top_db=top_db)`.

    Args:
        sample_rate, n_fft, hop_length, win_length, window, center, power: as librosa.
        n_mels, fmin, fmax: the Slaney mel filterbank (`librosa.filters.mel`).
        top_db: floor at each clip's peak minus `top_db` dB; None for none.
        to_db: False returns `librosa.feature.melspectrogram` itself.

    Example:

    >>> MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=64, n_mels=40)(tf.zeros([2, 8000])).shape
    TensorShape([2, 126, 40])
    """

    features = "log_mel"
    _own_keys = ("n_mels", "fmin", "fmax", "top_db", "to_db")

    def __init__(self, *, n_mels=128, fmin=0.0, fmax=None, top_db=80.0, to_db=True, **kwargs):
        super().__init__(n_mels=n_mels, fmin=fmin, fmax=fmax, top_db=top_db, to_db=to_db, **kwargs)


@keras.saving.register_keras_serializable(package="mmkeras")
class MFCC(_AudioFrontendLayer):
    """MFCCs: `librosa.feature.mfcc(y, sr, n_mfcc, ...)` (DCT-II, ortho, of the dB mel spectrogram).

    Args:
        sample_rate, n_fft, hop_length, win_length, window, center, power: as librosa.
        n_mfcc: coefficients kept, at most `n_mels`.
        n_mels, fmin, fmax, top_db: the mel spectrogram in dB it is computed from.

    Example:

    >>> MFCC(sample_rate=8000, n_fft=256, hop_length=64, n_mels=40, n_mfcc=13)(tf.zeros([2, 8000])).shape
    TensorShape([2, 126, 13])
    """

    features = "mfcc"
    _own_keys = ("n_mfcc", "n_mels", "fmin", "fmax", "top_db")

    def __init__(self, *, n_mfcc=20, n_mels=128, fmin=0.0, fmax=None, top_db=80.0, **kwargs):
        super().__init__(n_mfcc=n_mfcc, n_mels=n_mels, fmin=fmin, fmax=fmax, top_db=top_db, **kwargs)


@keras.saving.register_keras_serializable(package="mmkeras")
class Chroma(_AudioFrontendLayer):
    """Chromagram: `librosa.feature.chroma_stft(S=np.abs(librosa.stft(y, ...)) ** power, tuning=tuning)`.

    With `power=2` (the default) this is `chroma_stft(y=y, tuning=tuning)`.
    The tuning is fixed (librosa estimates it per clip when `tuning=None`).

    Args:
        sample_rate, n_fft, hop_length, win_length, window, center, power: as librosa.
        n_chroma: bins per octave.
        tuning: offset from A440 in fractions of a bin.

    Example:

    >>> Chroma(sample_rate=8000, n_fft=256, hop_length=64)(tf.zeros([2, 8000])).shape
    TensorShape([2, 126, 12])
    """

    features = "chroma"
    _own_keys = ("n_chroma", "tuning")

    def __init__(self, *, n_chroma=12, tuning=0.0, **kwargs):
        super().__init__(n_chroma=n_chroma, tuning=tuning, **kwargs)
