"""Audio features and the frontend layers: librosa parity for every feature at several settings."""

import os

import keras
import librosa
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.data.audio import AudioFeature, decode_wav
from mmkeras.layers.audio_frontend import (AudioFrontend, chroma_filterbank, dct_matrix, num_frames,
                                         stft_window)

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host

FSDD = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "shared", "data", "fsdd", "recordings")
FEATURES = ("spectrogram", "log_mel", "mfcc", "chroma")

# Several STFT settings: defaults, another window/win_length/power, center=False, odd n_fft.
SETTINGS = [
    dict(sample_rate=8000, n_fft=256, hop_length=64, win_length=None, window="hann", center=True, power=2.0,
         n_mels=40, fmin=0.0, fmax=None, n_mfcc=13, n_chroma=12, top_db=80.0),
    dict(sample_rate=16000, n_fft=512, hop_length=160, win_length=400, window="hamming", center=True, power=1.0,
         n_mels=64, fmin=20.0, fmax=7600.0, n_mfcc=20, n_chroma=24, top_db=60.0),
    dict(sample_rate=22050, n_fft=1024, hop_length=256, win_length=None, window="blackman", center=False,
         power=2.0, n_mels=128, fmin=0.0, fmax=None, n_mfcc=40, n_chroma=12, top_db=None),
    dict(sample_rate=16000, n_fft=401, hop_length=100, win_length=300, window="bartlett", center=False,
         power=1.5, n_mels=40, fmin=50.0, fmax=6000.0, n_mfcc=13, n_chroma=12, top_db=80.0),
]
IDS = [f"sr{s['sample_rate']}-nfft{s['n_fft']}-{s['window']}-center{int(s['center'])}" for s in SETTINGS]


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def clips(sample_rate, seed=0):
    """Two clips: tones plus noise, and a quiet one starting with silence (reaches the top_db floor)."""
    rng = np.random.default_rng(seed)
    n = sample_rate // 4 + 37  # not a multiple of the hop
    t = np.arange(n) / sample_rate
    loud = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * 1250.0 * t) + 0.05 * rng.normal(size=n)
    quiet = 0.1 * np.sin(2 * np.pi * 311.0 * t + 1.0) + 0.01 * rng.normal(size=n)
    quiet[: n // 5] = 0.0
    return np.stack([loud, quiet]).astype(np.float32)


def stft_args(s):
    return dict(n_fft=s["n_fft"], hop_length=s["hop_length"], win_length=s["win_length"], window=s["window"],
                center=s["center"])


def librosa_feature(feature, y, s, to_db=True):
    """The reference, computed by librosa from the waveform with the same arguments (`[frames, bins]`)."""
    sr, mel = s["sample_rate"], dict(n_mels=s["n_mels"], fmin=s["fmin"], fmax=s["fmax"])
    if feature == "spectrogram":
        out = np.abs(librosa.stft(y, **stft_args(s))) ** s["power"]
        out = librosa.power_to_db(out, top_db=s["top_db"]) if to_db else out
    elif feature == "log_mel":
        out = librosa.feature.melspectrogram(y=y, sr=sr, power=s["power"], **stft_args(s), **mel)
        out = librosa.power_to_db(out, top_db=s["top_db"]) if to_db else out
    elif feature == "mfcc":
        db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, power=s["power"], **stft_args(s), **mel),
                                 top_db=s["top_db"])
        out = librosa.feature.mfcc(S=db, n_mfcc=s["n_mfcc"])
        if s["top_db"] == 80.0:  # librosa's own default: mfcc(y=...) does the same
            direct = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=s["n_mfcc"], power=s["power"], **stft_args(s), **mel)
            np.testing.assert_allclose(direct, out, rtol=1e-6, atol=1e-4)
    else:
        if s["power"] == 2.0:
            out = librosa.feature.chroma_stft(y=y, sr=sr, n_chroma=s["n_chroma"], tuning=0.0, **stft_args(s))
        else:
            spec = np.abs(librosa.stft(y, **stft_args(s))) ** s["power"]
            out = librosa.feature.chroma_stft(S=spec, sr=sr, n_chroma=s["n_chroma"], tuning=0.0, n_fft=s["n_fft"])
    return out.T


def frontend(feature, s, **kw):
    return AudioFrontend(feature, **s, **kw)


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("s", SETTINGS, ids=IDS)
def test_features_match_librosa(feature, s):
    waves = clips(s["sample_rate"])
    expected = np.stack([librosa_feature(feature, w, s) for w in waves])
    fn = frontend(feature, s)
    assert expected.shape[1:] == fn.output_shape(waves.shape[1])
    eager = fn(tf.constant(waves)).numpy()
    single = np.stack([fn(tf.constant(w)).numpy() for w in waves])
    in_ds = np.concatenate([b.numpy() for b in tf.data.Dataset.from_tensor_slices(waves).batch(2).map(fn)])
    for out in (eager, single, in_ds):
        assert out.shape == expected.shape and out.dtype == np.float32
        for got, ref in zip(out, expected):
            assert rel_err(got, ref) < 1e-5, (feature, rel_err(got, ref))


@pytest.mark.parametrize("feature", ["spectrogram", "log_mel"])
def test_power_without_db_matches_librosa(feature):
    s = SETTINGS[1]
    waves = clips(s["sample_rate"], seed=3)
    out = frontend(feature, s, to_db=False)(tf.constant(waves)).numpy()
    for got, w in zip(out, waves):
        assert rel_err(got, librosa_feature(feature, w, s, to_db=False)) < 1e-5


def test_waveform_feature_is_the_samples():
    waves = clips(8000)
    out = AudioFrontend("waveform", sample_rate=8000, n_fft=256)(tf.constant(waves)).numpy()
    assert out.shape == waves.shape + (1,)
    np.testing.assert_array_equal(out[..., 0], waves)


def test_constants_are_librosas():
    np.testing.assert_allclose(stft_window(400, 300, "hamming"),
                               librosa.util.pad_center(librosa.filters.get_window("hamming", 300), size=400),
                               rtol=1e-6)
    np.testing.assert_allclose(chroma_filterbank(sample_rate=16000, n_fft=512, n_chroma=12, tuning=0.1),
                               librosa.filters.chroma(sr=16000, n_fft=512, n_chroma=12, tuning=0.1).T, rtol=1e-6)
    x = np.random.default_rng(0).normal(size=(40, 7))
    np.testing.assert_allclose(x.T @ dct_matrix(40, 13), librosa.feature.mfcc(S=x, n_mfcc=13).T, atol=1e-5)
    assert num_frames(8000, n_fft=256, hop_length=64, center=False) == 1 + (8000 - 256) // 64


def test_frontend_argument_errors():
    with pytest.raises(ValueError, match="features"):
        AudioFrontend("cqt", sample_rate=8000, n_fft=256)
    with pytest.raises(ValueError, match="win_length"):
        AudioFrontend("log_mel", sample_rate=8000, n_fft=256, win_length=300)
    with pytest.raises(ValueError, match="n_mfcc"):
        AudioFrontend("mfcc", sample_rate=8000, n_fft=256, n_mels=10, n_mfcc=13)


def audio_spec(**options):
    return mmkeras.load_spec({
        "spec_version": 1, "name": "t", "inputs": {"sound": {"type": "audio", "column": "a", **options}},
        "outputs": {"y": {"type": "regression", "column": "y"}}}).inputs["sound"]


@pytest.mark.parametrize("feature", FEATURES)
def test_spec_keys_reach_the_features(feature):
    """AudioFeature built from spec keys computes librosa's feature with those arguments."""
    s = SETTINGS[3]
    keys = {k: v for k, v in s.items() if k not in ("sample_rate",)}
    spec = audio_spec(sample_rate=16000, duration=0.25, features=feature,
                      encoder={"type": "cnn1d"}, **keys)
    feature_obj = AudioFeature(spec)
    wave = clips(16000)[0][: spec.num_samples]
    out = feature_obj.features(tf.constant(wave[None])).numpy()[0]
    assert out.shape == feature_obj.shape == (spec.num_frames, out.shape[1])
    assert rel_err(out, librosa_feature(feature, wave, s)) < 1e-5


def fsdd_files(count):
    if not os.path.isdir(FSDD):
        pytest.skip(f"FSDD recordings not found at {FSDD}")
    names = sorted(n for n in os.listdir(FSDD) if n.endswith(".wav"))[:count]
    if not names:
        pytest.skip(f"no WAV files in {FSDD}")
    return [os.path.join(FSDD, n) for n in names]


def test_every_feature_matches_librosa_on_fsdd_recordings():
    s = dict(SETTINGS[0])
    for path in fsdd_files(2):
        ref_wave, sr = librosa.load(path, sr=None, mono=True)
        wave = decode_wav(tf.io.read_file(path), sample_rate=8000, num_samples=len(ref_wave)).numpy()
        np.testing.assert_allclose(wave, ref_wave, atol=1e-6)
        for feature in FEATURES:
            got = frontend(feature, s)(wave).numpy()
            assert rel_err(got, librosa_feature(feature, ref_wave, s)) < 1e-5, feature


# -- Keras layers ------------------------------------------------------------------------------

LAYERS = [
    (mmkeras.layers.Spectrogram, "spectrogram", {}),
    (mmkeras.layers.MelSpectrogram, "log_mel", dict(n_mels=40, fmin=20.0, fmax=3800.0)),
    (mmkeras.layers.MFCC, "mfcc", dict(n_mels=40, n_mfcc=13)),
    (mmkeras.layers.Chroma, "chroma", dict(n_chroma=12, tuning=0.0)),
]


@pytest.mark.parametrize("cls,feature,options", LAYERS, ids=[c[1] for c in LAYERS])
def test_layer_matches_librosa_config_round_trip_and_saves(cls, feature, options, tmp_path):
    stft = dict(sample_rate=8000, n_fft=256, hop_length=64, window="hann", center=True, power=2.0)
    layer = cls(**stft, **options)
    waves = clips(8000, seed=5)
    s = {**SETTINGS[0], **stft, **options}
    out = layer(tf.constant(waves)).numpy()
    for got, w in zip(out, waves):
        assert rel_err(got, librosa_feature(feature, w, s)) < 1e-5

    config = layer.get_config()
    again = cls.from_config(config)
    assert again.get_config() == config
    np.testing.assert_array_equal(again(tf.constant(waves)).numpy(), out)

    inputs = keras.Input(shape=(waves.shape[1],))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(cls(**stft, **options)(inputs)))
    expected = model.predict(waves, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(waves, verbose=0), expected, rtol=1e-6, atol=1e-6)


def test_layers_compile_with_xla_and_stay_float32():
    waves = clips(8000, seed=6)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inputs = keras.Input(shape=(waves.shape[1],))
        mel = mmkeras.layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=64, n_mels=40)(inputs)
        outputs = keras.layers.Dense(3)(keras.layers.Flatten()(mel))
        model = keras.Model(inputs, outputs)
    finally:
        keras.config.set_dtype_policy(previous)
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    assert model.jit_compile is True
    model.train_on_batch(waves, np.zeros([2, 3], np.float32))  # compiles the XLA train step
    extractor = keras.Model(inputs, mel)
    assert extractor.output.dtype == "float32"
    eager = extractor(tf.constant(waves)).numpy()
    xla = tf.function(lambda x: extractor(x), jit_compile=True)(tf.constant(waves)).numpy()
    np.testing.assert_allclose(xla, eager, rtol=1e-5, atol=1e-3)
    s = {**SETTINGS[0], "n_mels": 40}
    assert rel_err(eager[0], librosa_feature("log_mel", waves[0], s)) < 1e-5
