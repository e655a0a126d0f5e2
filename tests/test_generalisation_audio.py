"""Audio options that transfer across speakers: per-clip feature normalisation (in the export too) and
waveform augmentation (shift, gain, noise) in training only."""

import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.data.audio import AudioFeature
from mmkeras.data.audio_augment import augment_waves, clip_normalize, shift_waves
from mmkeras.specs import SpecError

AUGMENT = {"time_shift": 0.02, "gain_db": 6.0, "noise": 0.01, "time_masks": 1, "freq_masks": 1}


def make_spec(path=None, **options):
    sound = {"type": "audio", "column": "a", "sample_rate": 8000, "duration": 0.25, "n_fft": 256,
             "hop_length": 64, "n_mels": 16, "encoder": {"type": "cnn", "filters": [4], "dense_units": 8}, **options}
    data = {"path": path, "split": {"column": "split", "train": "train", "test": "test"}} if path else {}
    return mmkeras.load_spec({"spec_version": 1, "name": "t", "data": data, "inputs": {"sound": sound},
                              "outputs": {"y": {"type": "classification", "column": "y"}},
                              "training": {"batch_size": 4, "epochs": 1, "jit_compile": False, "seed": 0}})


def waves(n=4, samples=2000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 8000
    return np.stack([(0.1 + 0.2 * i) * np.sin(2 * np.pi * (300 + 200 * i) * t) + 0.01 * rng.normal(size=samples)
                     for i in range(n)]).astype(np.float32)


def test_defaults_are_off_and_bad_values_name_the_key():
    sound = make_spec().inputs["sound"]
    assert sound.feature_norm == "none" and not sound.augment.enabled
    assert make_spec(augment={"gain_db": 3}).inputs["sound"].augment.enabled
    with pytest.raises(SpecError, match="feature_norm"):
        make_spec(feature_norm="speaker")
    with pytest.raises(SpecError, match="augment.time_shift: -0.1 is below the minimum 0"):
        make_spec(augment={"time_shift": -0.1})


def test_clip_normalisation_removes_a_constant_offset_and_scale():
    x = tf.random.normal([3, 20, 5], seed=1)
    np.testing.assert_allclose(clip_normalize(x + 7.0, "clip_mean"), clip_normalize(x, "clip_mean"), atol=1e-5)
    np.testing.assert_allclose(clip_normalize(3.0 * x - 2.0, "clip"), clip_normalize(x, "clip"), atol=1e-4)
    out = clip_normalize(x, "clip").numpy()
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=1), 1, atol=1e-3)
    # log-mel of a louder clip (a gain is an offset in dB) gives the same normalised features
    feature = AudioFeature(make_spec(feature_norm="clip_mean", top_db=None).inputs["sound"])
    w = waves()
    np.testing.assert_allclose(feature.features(w * 4.0), feature.features(w), atol=1e-3)


def test_shift_gain_noise_in_training_only():
    np.testing.assert_array_equal(shift_waves(tf.constant([[1.0, 2.0, 3.0, 4.0]]), tf.constant([2])),
                                  [[0.0, 0.0, 1.0, 2.0]])
    w = tf.constant(waves())
    assert augment_waves(w, sample_rate=8000) is w                   # everything off: untouched
    feature = AudioFeature(make_spec(augment=AUGMENT).inputs["sound"])
    plain = AudioFeature(make_spec().inputs["sound"])
    assert feature.transform_is_random
    np.testing.assert_array_equal(feature.transform(w, training=False), plain.transform(w, training=False))
    np.testing.assert_array_equal(feature.transform(w, training=False), feature.transform(w, training=False))
    assert not np.allclose(feature.transform(w, training=True), plain.transform(w, training=False))


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """12 clips (low vs high tone, varying level) as 8 kHz WAV; 8 train, 4 test."""
    root = tmp_path_factory.mktemp("gen_audio")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        label = "lh"[i % 2]
        t = np.arange(1600 + 40 * i) / 8000
        wave = (0.05 + 0.05 * i) * np.sin(2 * np.pi * (300.0 if label == "l" else 1500.0) * t)
        wave = (wave + 0.01 * rng.normal(size=len(t))).astype(np.float32)
        (root / f"{i}.wav").write_bytes(tf.audio.encode_wav(wave[:, None], 8000).numpy())
        rows.append({"a": f"{i}.wav", "y": label, "split": "test" if i >= 8 else "train"})
    pd.DataFrame(rows).to_csv(root / "t.csv", index=False)
    return str(root / "t.csv")


def test_export_applies_clip_normalisation_and_no_augmentation(table, tmp_path):
    spec = make_spec(table, feature_norm="clip", augment=AUGMENT)
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    model.fit(mmkeras.make_dataset(spec, splits["train"], pre, training=True), epochs=1, verbose=0)
    test = splits["test"]
    expected = model.predict(mmkeras.make_dataset(spec, test, pre, with_targets=False), verbose=0)["y"]
    path = mmkeras.export_saved_model(model, pre, str(tmp_path / "export"))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    root = os.path.dirname(table)
    raw = [open(os.path.join(root, p), "rb").read() for p in test["a"]]
    served = [serve(sound=tf.constant(raw))["y_probabilities"].numpy() for _ in range(2)]
    np.testing.assert_allclose(served[0], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(served[0], served[1])              # no random augmentation when served


@pytest.mark.skipif(not os.path.isfile(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "specs",
                                                    "av_digits.yaml")), reason="../shared is absent")
def test_benchmark_specs_load_for_every_pair_and_variant():
    from benchmarks.generalisation import PAIRS, VARIANTS, audio_spec

    for pair in PAIRS:
        for variant in VARIANTS:
            spec = mmkeras.load_spec(audio_spec(pair, variant, epochs=1, split={"train": 1.0}))
            speech = spec.inputs["speech"]
            assert (speech.features, speech.encoder.type) == tuple(pair.split("+"))
            assert speech.sample_rate == 8000 and spec.training.epochs == 1
            assert (speech.feature_norm != "none") == ("norm" in variant or variant == "cmvn")
            assert speech.augment.enabled == ("aug" in variant or "shift" in variant)
