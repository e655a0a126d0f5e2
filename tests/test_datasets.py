import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mmkeras.demo import data as datasets

N = 64
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    manifest = datasets.make_demo_data(out, num_examples=N, seed=0)
    return str(out), manifest, pd.read_csv(manifest)


def _read_wav(path):
    audio, rate = tf.audio.decode_wav(tf.io.read_file(path))
    return audio.numpy(), int(rate)


def test_manifest_layout(demo):
    out, manifest, df = demo
    assert manifest == os.path.join(out, "manifest.csv")
    assert list(df.columns) == list(datasets.MANIFEST_COLUMNS)
    assert len(df) == N
    assert set(df.label) == set(datasets.DEMO_CLASSES)
    assert list(datasets.DEMO_CLASSES) == sorted(datasets.DEMO_CLASSES)
    assert len(datasets.DEMO_CLASSES) == 8
    assert df.image_path[1] == "images/00001.png"
    assert df.audio_path[1] == "audio/00001.wav"
    assert 1 <= df.reading.isna().sum() <= 0.05 * N + 1
    assert df.reading.dtype == np.float64
    assert df.text.map(lambda t: isinstance(t, str) and t).all()


def test_files_decode(demo):
    out, _, df = demo
    for i in range(N):
        img = tf.io.decode_png(tf.io.read_file(os.path.join(out, df.image_path[i])))
        assert img.shape == (32, 32, 3) and img.dtype == tf.uint8
        audio, rate = _read_wav(os.path.join(out, df.audio_path[i]))
        assert rate == 8000 and audio.shape[1] == 1
        assert 0.3 * 8000 - 1 <= audio.shape[0] <= 0.7 * 8000 + 1
        assert np.abs(audio).max() <= 1.0


def test_splits_stratified(demo):
    _, _, df = demo
    assert set(df.split) == {"train", "validation", "test"}
    counts = pd.crosstab(df.label, df.split)
    assert (counts > 0).all().all()
    frac = df.split.value_counts(normalize=True)
    assert abs(frac["train"] - 0.7) < 0.1


def test_deterministic(tmp_path, demo):
    out0, _, df0 = demo
    df1 = pd.read_csv(datasets.make_demo_data(tmp_path / "a", num_examples=N, seed=0))
    pd.testing.assert_frame_equal(df0, df1)
    for rel in ("images/00005.png", "audio/00005.wav"):
        a = tf.io.read_file(os.path.join(out0, rel)).numpy()
        b = tf.io.read_file(str(tmp_path / "a" / rel)).numpy()
        assert a == b
    df2 = pd.read_csv(datasets.make_demo_data(tmp_path / "b", num_examples=N, seed=1))
    assert not df0.equals(df2)
    a = tf.io.read_file(os.path.join(out0, "images/00005.png")).numpy()
    assert a != tf.io.read_file(str(tmp_path / "b" / "images/00005.png")).numpy()


def test_refuses_non_empty_dir(tmp_path):
    (tmp_path / "keep.txt").write_text("hi")
    with pytest.raises(FileExistsError, match="not empty"):
        datasets.make_demo_data(tmp_path, num_examples=24)
    manifest = datasets.make_demo_data(tmp_path, num_examples=24, overwrite=True)
    assert len(pd.read_csv(manifest)) == 24
    assert (tmp_path / "keep.txt").exists()
    # Empty existing folder is fine; too few examples is not.
    (tmp_path / "empty").mkdir()
    datasets.make_demo_data(tmp_path / "empty", num_examples=24)
    with pytest.raises(ValueError):
        datasets.make_demo_data(tmp_path / "small", num_examples=8)


def test_modalities_carry_their_bit(demo):
    out, _, df = demo
    parts = df.label.str.split("-", expand=True)
    shape, pitch, topic = parts[0], parts[1], parts[2]
    # Audio: fraction of spectral energy above 800 Hz separates low/high.
    high_frac = []
    for rel in df.audio_path:
        audio, rate = _read_wav(os.path.join(out, rel))
        spec = np.abs(np.fft.rfft(audio[:, 0])) ** 2
        freqs = np.fft.rfftfreq(len(audio), 1.0 / rate)
        high_frac.append(spec[freqs > 800].sum() / spec.sum())
    high_frac = np.array(high_frac)
    np.testing.assert_array_equal(high_frac > 0.5, pitch == "high")
    # Text: the noun list decides animal/vehicle.
    vehicles = set(datasets._VEHICLES)
    has_vehicle = df.text.map(
        lambda t: bool(vehicles & set(t.strip(".!").split())))
    np.testing.assert_array_equal(has_vehicle, topic == "vehicle")
    # Image: a square fills its bounding box, a circle only ~pi/4 of it.
    fill = []
    for rel in df.image_path:
        img = tf.io.decode_png(tf.io.read_file(os.path.join(out, rel))).numpy()
        mask = img.astype(float).mean(-1) > 110
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        box = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
        fill.append(mask.sum() / box)
    np.testing.assert_array_equal(np.array(fill) > 0.9, shape == "square")
    # Weak hints: correlated with their bit, but far from perfect.
    warm = df.colour_name.isin(["red", "orange", "yellow", "green"])
    assert 0.55 < (warm == (shape == "circle")).mean() < 0.9
    r = df.reading.fillna(0.0)
    assert r[topic == "vehicle"].mean() > r[topic == "animal"].mean()


def test_spec_dict_matches_yaml(demo):
    _, manifest, _ = demo
    spec = datasets.demo_spec_dict(manifest)
    assert spec["data"]["path"] == os.path.abspath(manifest)
    assert spec["data"]["root"] == os.path.dirname(os.path.abspath(manifest))
    yaml = pytest.importorskip("yaml")
    with open(os.path.join(REPO, "data_specs", "demo.yaml")) as f:
        on_disk = yaml.safe_load(f)
    assert on_disk["data"]["path"] == "../demo_data/manifest.csv"
    assert on_disk["data"]["root"] == "../demo_data"
    for d in (spec, on_disk):
        d["data"].pop("path"), d["data"].pop("root")
    assert spec == on_disk
