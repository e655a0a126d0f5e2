"""Audio options: resampling, crop, normalisation, other file formats, SpecAugment, encoders, export."""

import io
import os

import keras
import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile
import tensorflow as tf

import mmkeras
from mmkeras.builders import build_encoder
from mmkeras.data.audio import AudioFeature, decode_wav, to_wav_bytes
from mmkeras.layers.audio_frontend import spec_augment
from mmkeras.data.audio_files import convert_column
from mmkeras.specs import SpecError

SHARED_SPECS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "specs")
DATA_SPECS = os.path.join(os.path.dirname(__file__), "..", "data_specs")
CONTEXT = "row 2 of t, column 'a', file /x.wav"


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def tone(rate, seconds, freq, seed=0):
    n = int(rate * seconds)
    t = np.arange(n) / rate
    noise = np.random.default_rng(seed).normal(size=n)
    return (0.4 * np.sin(2 * np.pi * freq * t) + 0.02 * noise).astype(np.float32)


def wav(wave, rate):
    wave = np.asarray(wave, np.float32)
    return tf.audio.encode_wav(wave[:, None] if wave.ndim == 1 else wave, rate).numpy()


def encoded(wave, rate, fmt, subtype=None):
    out = io.BytesIO()
    soundfile.write(out, wave, rate, format=fmt, subtype=subtype)
    return out.getvalue()


def make_spec(path=None, encoder=None, **options):
    sound = {"type": "audio", "column": "a", "sample_rate": 8000, "duration": 0.25, "n_fft": 256,
             "hop_length": 64, "n_mels": 32, **options}
    if encoder:
        sound["encoder"] = encoder
    data = {"path": path, "split": {"column": "split", "train": "train", "test": "test"}} if path else {}
    return mmkeras.load_spec({"spec_version": 1, "name": "t", "data": data, "inputs": {"sound": sound},
                              "outputs": {"y": {"type": "classification", "column": "y"}},
                              "training": {"batch_size": 8, "epochs": 1, "jit_compile": True}})


# -- spec keys ---------------------------------------------------------------------------------


def test_defaults_keep_existing_specs_unchanged():
    sound = make_spec().inputs["sound"]
    assert (sound.features, sound.window, sound.center, sound.power, sound.resample, sound.crop,
            sound.normalize, sound.augment.enabled) == ("log_mel", "hann", True, 2.0, False, "start", "none", False)
    path = os.path.join(SHARED_SPECS, "av_digits.yaml")
    if not os.path.isfile(path):
        pytest.skip("../shared/specs/av_digits.yaml not found")
    speech = mmkeras.load_spec(path).inputs["speech"]
    assert AudioFeature(speech).shape == (speech.num_frames, 40) == (126, 40)


def test_example_spec_loads():
    spec = mmkeras.load_spec(os.path.join(DATA_SPECS, "av_digits_mfcc.yaml"))
    speech = spec.inputs["speech"]
    assert (speech.features, speech.encoder.type, speech.crop, speech.resample) == ("mfcc", "crnn", "random", True)
    assert speech.augment.time_masks == 2 and AudioFeature(speech).shape == (126, 20)
    assert mmkeras.load_spec(spec.to_dict()).inputs["speech"] == speech


@pytest.mark.parametrize("options,message", [
    (dict(features="cqt"), "features: 'cqt' is not one of waveform, spectrogram, log_mel, mfcc, chroma"),
    (dict(window="kaiser"), "window: 'kaiser' is not one of"),
    (dict(crop="end"), "crop: 'end' is not one of start, center, random"),
    (dict(normalize="loud"), "normalize: 'loud' is not one of none, peak, rms"),
    (dict(win_length=300), "win_length: 300 is larger than n_fft (256)"),
    (dict(features="mfcc", n_mels=10, n_mfcc=13), "n_mfcc: 13 is larger than n_mels (10)"),
    (dict(center=False, duration=0.01), "center: False needs at least n_fft (256) samples"),
    (dict(fmin=5000.0), "fmin: 5000.0 must be below fmax (4000)"),
    (dict(tuning=0.5), "tuning: 0.5 is not in [-0.5, 0.5)"),
    (dict(power=0), "power: 0 must be greater than 0"),
    (dict(features="waveform"), "encoder.type: 'cnn' is 2D over a spectrogram; features: waveform needs cnn1d"),
    (dict(augment={"time_masks": -1}), "augment.time_masks: -1 is below the minimum 0"),
    (dict(augment={"mask": 1}), "augment.mask: unknown key"),
])
def test_bad_options_name_key_and_value(options, message):
    with pytest.raises(SpecError) as info:
        make_spec(**options)
    assert f"inputs.sound.{message}" in str(info.value)


# -- decoding: resampling, crop, normalisation, formats --------------------------------------------


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 6000])
@pytest.mark.parametrize("crop", ["start", "center"])
def test_resampling_matches_librosa_polyphase(rate, crop):
    source = tone(rate, 0.3, 440.0, seed=rate)
    data = wav(source, rate)
    audio, _ = tf.audio.decode_wav(data)
    ref = librosa.resample(audio.numpy()[:, 0], orig_sr=rate, target_sr=8000, res_type="polyphase")
    n = 1600  # shorter than the resampled clip: cropped
    offset = 0 if crop == "start" else (len(ref) - n) // 2
    expected = ref[offset: offset + n]

    def fn(d):
        return decode_wav(d, sample_rate=8000, num_samples=n, crop=crop, resample=True)

    outs = [fn(tf.constant(data)).numpy(),
            next(iter(tf.data.Dataset.from_tensors(data).map(fn))).numpy(),
            next(iter(tf.data.Dataset.from_tensors(data).map(fn).batch(2))).numpy()[0]]
    for out in outs:
        assert out.shape == (n,) and rel_err(out, expected) < 1e-5
    long = decode_wav(data, sample_rate=8000, num_samples=len(ref) + 50, resample=True).numpy()
    assert rel_err(long[: len(ref)], ref) < 1e-5 and not long[len(ref):].any()  # padded after


def test_resampling_off_same_rate_and_error():
    wave = tone(8000, 0.1, 300.0)
    same = decode_wav(wav(wave, 8000), sample_rate=8000, num_samples=800, resample=True).numpy()
    np.testing.assert_array_equal(same, decode_wav(wav(wave, 8000), sample_rate=8000, num_samples=800).numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="set resample: true"):
        decode_wav(wav(wave, 16000), sample_rate=8000, num_samples=800, context=CONTEXT)


def test_random_crop_in_training_only():
    wave = (np.arange(1, 101, dtype=np.float32) / 128.0)
    data = tf.constant(wav(wave, 8000))
    ref = tf.audio.decode_wav(data)[0].numpy()[:, 0]
    windows = set()
    for _ in range(20):
        out = decode_wav(data, sample_rate=8000, num_samples=40, crop="random", training=True).numpy()
        start = int(np.argmin(np.abs(ref - out[0])))
        np.testing.assert_array_equal(out, ref[start: start + 40])  # a contiguous window
        windows.add(start)
    assert len(windows) > 3
    center = decode_wav(data, sample_rate=8000, num_samples=40, crop="random").numpy()
    np.testing.assert_array_equal(center, ref[30:70])
    short = decode_wav(data, sample_rate=8000, num_samples=150, crop="random", training=True).numpy()
    before = int(np.argmax(short != 0))
    np.testing.assert_array_equal(short[before: before + 100], ref)
    assert AudioFeature(make_spec(crop="random").inputs["sound"]).decode_is_random
    assert not AudioFeature(make_spec(crop="center").inputs["sound"]).decode_is_random


@pytest.mark.parametrize("normalize", ["peak", "rms"])
def test_normalize_peak_and_rms_ignore_padding(normalize):
    wave = tone(8000, 0.1, 300.0) * 0.2
    out = decode_wav(wav(wave, 8000), sample_rate=8000, num_samples=1600, normalize=normalize).numpy()
    kept = out[:800]
    if normalize == "peak":
        assert np.isclose(np.abs(kept).max(), 1.0, atol=1e-6)
    else:
        assert np.isclose(np.sqrt(np.mean(kept ** 2)), 0.1, atol=1e-6)
    assert not out[800:].any()
    silent = decode_wav(wav(np.zeros(100), 8000), sample_rate=8000, num_samples=100, normalize=normalize)
    assert not silent.numpy().any()


def test_non_pcm16_wav_is_a_clear_error_in_graph():
    data = encoded(tone(8000, 0.05, 300.0), 8000, "WAV", "PCM_24")
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        decode_wav(tf.constant(data), sample_rate=8000, num_samples=400, context=CONTEXT)
    assert "Not a 16-bit PCM WAV" in info.value.message and CONTEXT in info.value.message
    ok = decode_wav(tf.constant(to_wav_bytes(data)), sample_rate=8000, num_samples=400).numpy()
    np.testing.assert_allclose(ok, tone(8000, 0.05, 300.0), atol=1e-4)


@pytest.mark.parametrize("fmt,subtype,atol", [("FLAC", None, 1e-4), ("OGG", None, 0.05), ("MP3", None, 0.1),
                                              ("WAV", "FLOAT", 1e-4), ("WAV", "PCM_24", 1e-4)])
def test_other_formats_converted_at_the_edge_once(fmt, subtype, atol, tmp_path, monkeypatch):
    monkeypatch.setenv("MMKERAS_AUDIO_CACHE", str(tmp_path / "cache"))
    wave = tone(8000, 0.25, 300.0)
    path = str(tmp_path / f"clip.{fmt.lower()}")
    with open(path, "wb") as f:
        f.write(encoded(wave, 8000, fmt, subtype))
    plain = str(tmp_path / "plain.wav")
    with open(plain, "wb") as f:
        f.write(wav(wave, 8000))
    converted = {}
    out = convert_column(np.array([plain, path], object), converted)
    assert out[0] == plain and out[1] != path and converted == {out[1]: path}
    assert os.path.dirname(out[1]) == str(tmp_path / "cache")
    data = tf.io.read_file(out[1])
    decoded = decode_wav(data, sample_rate=8000, num_samples=len(wave)).numpy()
    reference = soundfile.read(path, dtype="float32")[0]
    np.testing.assert_allclose(decoded[: len(reference)], reference[: len(decoded)], atol=4e-5)  # 16-bit steps
    assert np.abs(decoded[:1800] - wave[:1800]).max() < atol  # lossy codecs are only close
    mtime = os.path.getmtime(out[1])
    assert convert_column(np.array([path], object), {})[0] == out[1] and os.path.getmtime(out[1]) == mtime


def test_wav_with_other_chunks_first_is_read_in_graph_not_converted(tmp_path):
    plain = wav(tone(8000, 0.05, 300.0), 8000)
    junk = b"JUNK" + (6).to_bytes(4, "little") + b"abcdef"
    data = plain[:4] + (len(plain) + len(junk) - 8).to_bytes(4, "little") + plain[8:12] + junk + plain[12:]
    path = str(tmp_path / "junk.wav")
    with open(path, "wb") as f:
        f.write(data)
    converted = {}
    assert convert_column(np.array([path], object), converted)[0] == path and not converted
    np.testing.assert_array_equal(decode_wav(tf.constant(data), sample_rate=8000, num_samples=400).numpy(),
                                  decode_wav(tf.constant(plain), sample_rate=8000, num_samples=400).numpy())


def test_unreadable_file_is_a_data_error_naming_the_row(tmp_path, monkeypatch):
    monkeypatch.setenv("MMKERAS_AUDIO_CACHE", str(tmp_path / "cache"))
    good, bad = str(tmp_path / "a.wav"), str(tmp_path / "b.flac")
    with open(good, "wb") as f:
        f.write(wav(np.zeros(10), 8000))
    with open(bad, "wb") as f:
        f.write(b"this is not audio at all" * 4)
    with pytest.raises(mmkeras.DataError, match=r"Row 1 of t, column 'a': cannot read audio file .*b\.flac"):
        convert_column(np.array([good, bad], object), {}, table="t", column_name="a")


# -- SpecAugment -----------------------------------------------------------------------------------


def test_spec_augment_masks_whole_stripes():
    x = tf.ones([64, 50, 20])
    out = spec_augment(x, time_masks=2, time_mask_width=6, freq_masks=1, freq_mask_width=4).numpy()
    masked_frames = (out == 0).all(axis=2)
    masked_bands = (out == 0).all(axis=1)
    assert ((out == 0) == (masked_frames[:, :, None] | masked_bands[:, None, :])).all()  # stripes only
    assert masked_frames.any() and masked_bands.any()
    assert masked_frames.sum(axis=1).max() <= 12 and masked_bands.sum(axis=1).max() <= 4
    np.testing.assert_array_equal(spec_augment(x).numpy(), x.numpy())


def test_transform_masks_in_training_only():
    spec = make_spec(augment={"time_masks": 2, "time_mask_width": 5, "freq_masks": 2, "freq_mask_width": 3})
    feature = AudioFeature(spec.inputs["sound"])
    assert feature.transform_is_random and not AudioFeature(make_spec().inputs["sound"]).transform_is_random
    batch = tf.constant(np.stack([tone(8000, 0.25, f) for f in (300.0, 900.0)]))
    plain = feature.transform(batch).numpy()
    np.testing.assert_array_equal(feature.transform(batch, training=False).numpy(), plain)
    trained = feature.transform(batch, training=True).numpy()
    zeroed = (trained == 0) & (plain != 0)
    assert zeroed.any() and np.array_equal(trained[~zeroed], plain[~zeroed])


# -- encoders -------------------------------------------------------------------------------------


@pytest.mark.parametrize("features,encoder,shape,train", [
    ("log_mel", "cnn", (32, 32), False), ("chroma", "cnn", (32, 12), True), ("mfcc", "cnn1d", (32, 20), False),
    ("waveform", "cnn1d", (2000, 1), True), ("spectrogram", "crnn", (32, 129), False),
    ("waveform", "crnn", (2000, 1), True),  # crnn on mfcc trains under XLA in the end-to-end test below
])
def test_encoders_build_for_each_feature_and_train_with_xla(features, encoder, shape, train):
    spec = make_spec(features=features, encoder={"type": encoder, "filters": [4, 8]})
    feature = AudioFeature(spec.inputs["sound"])
    assert feature.shape == shape
    branch = build_encoder(spec.inputs["sound"], feature)
    x = np.random.default_rng(0).normal(size=(4,) + shape).astype(np.float32)
    assert branch(x).shape[0] == 4 and len(branch(x).shape) == 2
    if not train:
        return
    model = keras.Sequential([branch, keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    assert model.jit_compile is True
    loss = model.train_on_batch(x, np.ones((4, 2), np.float32))  # XLA-compiles the train step
    assert np.isfinite(loss)


def test_cnn_on_waveform_is_an_error():
    spec = make_spec(features="waveform", encoder={"type": "cnn1d"})
    with pytest.raises(ValueError, match="features: waveform needs cnn1d or crnn"):
        mmkeras.encoders.ENCODERS.get("audio", "cnn")(keras.Input((2000, 1)), spec.inputs["sound"],
                                                        AudioFeature(spec.inputs["sound"]))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_crnn_gru_avoids_cudnn_so_xla_stays_on(monkeypatch, bidirectional):
    """Keras marks a cuDNN-eligible GRU not jit-compilable when cuDNN is usable (a GPU); crnn must not be."""
    monkeypatch.setattr(keras.src.backend, "cudnn_ok", lambda *args, **kwargs: True)  # as on a GPU
    spec = make_spec(features="mfcc", n_mfcc=13,
                     encoder={"type": "crnn", "filters": [4], "gru_units": 8, "bidirectional": bidirectional})
    feature = AudioFeature(spec.inputs["sound"])
    branch = build_encoder(spec.inputs["sound"], feature)
    grus = [layer for layer in branch._flatten_layers() if isinstance(layer, keras.layers.GRU)]
    assert grus and all(gru.use_cudnn is False and gru.supports_jit for gru in grus)
    model = keras.Sequential([branch, keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    x = np.random.default_rng(0).normal(size=(4,) + feature.shape).astype(np.float32)
    assert np.isfinite(model.train_on_batch(x, np.ones((4, 2), np.float32)))
    assert model.jit_compile is True  # still on after the step traced the GRU


# -- end to end: a table of mixed formats and rates, training, export ----------------------------------


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """16 clips (low vs high tone) as WAV 8 kHz, WAV 16 kHz stereo, FLAC 22.05 kHz, OGG; their CSV."""
    root = tmp_path_factory.mktemp("audio")
    rows = []
    for i in range(16):
        label = "lh"[i % 2]
        freq = (250.0 if label == "l" else 1500.0) * (1 + 0.05 * (i % 4))
        kind = i % 4
        rate = (8000, 16000, 22050, 8000)[kind]
        wave = tone(rate, 0.2 + 0.03 * i, freq, seed=i)
        name = f"{i:02d}" + (".wav", ".wav", ".flac", ".ogg")[kind]
        if kind == 1:
            data = wav(np.stack([wave, 0.5 * wave], axis=1), rate)
        elif kind == 0:
            data = wav(wave, rate)
        else:
            data = encoded(wave, rate, "FLAC" if kind == 2 else "OGG")
        (root / name).write_bytes(data)
        rows.append({"a": name, "y": label, "split": "test" if i >= 12 else "train"})
    pd.DataFrame(rows).to_csv(root / "t.csv", index=False)
    return str(root / "t.csv")


def test_mixed_table_trains_with_xla_and_exports(table, tmp_path, monkeypatch):
    monkeypatch.setenv("MMKERAS_AUDIO_CACHE", str(tmp_path / "cache"))
    spec = make_spec(table, features="mfcc", n_mfcc=13, resample=True, crop="random", normalize="rms",
                     augment={"time_masks": 1, "freq_masks": 1}, encoder={"type": "crnn", "filters": [4], "gru_units": 8})
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    feature = pre.features["sound"]
    assert len(feature.converted) == 6  # the FLAC and OGG files of the training split
    model = mmkeras.build_model(spec, pre)
    assert model.jit_compile is True
    model.fit(mmkeras.make_dataset(spec, splits["train"], pre, training=True), epochs=1, verbose=0)

    test = splits["test"]
    expected = model.predict(mmkeras.make_dataset(spec, test, pre, with_targets=False), verbose=0)["y"]
    pre.save(str(tmp_path / "pre"))
    again = mmkeras.Preprocessor.load(str(tmp_path / "pre"))
    assert again.spec == pre.spec
    np.testing.assert_array_equal(again.features["sound"].mean, feature.mean)
    path = mmkeras.export_saved_model(model, again, str(tmp_path / "export"))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    root = os.path.dirname(table)
    raw = [to_wav_bytes(os.path.join(root, p)) for p in test["a"]]  # serving takes WAV bytes
    served = serve(sound=tf.constant(raw))["y_probabilities"].numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Not a WAV"):
        serve(sound=tf.constant([open(os.path.join(root, test["a"].iloc[-1]), "rb").read()]))  # OGG bytes
