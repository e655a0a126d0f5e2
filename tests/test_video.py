"""Video inputs: frame folders and lists, uniform sampling, the frames_cnn encoder, export."""

import json
import os

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.data.checks import explain_op_error
from mmkeras.data.video import VideoFeature, encode_frames, list_frames, read_clips, sample_indices
from mmkeras.demo.run import raw_batch
from mmkeras.specs import SpecError

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host

SIZE = 16


def write_frame(path, value):
    tf.io.write_file(str(path), tf.io.encode_png(tf.fill([SIZE, SIZE, 3], tf.constant(value, tf.uint8))))


def write_clip(folder, values):
    os.makedirs(folder, exist_ok=True)
    for k, value in enumerate(values):
        write_frame(os.path.join(folder, f"frame_{k + 1}.png"), value)
    return str(folder)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """12 clips of 3 to 6 frames whose brightness goes up or down; a table with splits."""
    root = tmp_path_factory.mktemp("clips")
    rows = []
    for c in range(12):
        n = 3 + c % 4
        values = [20 + 40 * k for k in range(n)]
        label = "up" if c % 2 == 0 else "down"
        write_clip(root / f"clip{c}", values if label == "up" else values[::-1])
        rows.append({"clip": f"clip{c}", "label": label, "split": "train" if c < 8 else "test"})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return str(root)


def video_spec(root, frames=4, channels=3, size=8, **encoder):
    encoder = {"type": "frames_cnn", "frame_encoder": {"type": "cnn", "filters": [4], "dense_units": 8}, **encoder}
    return mmkeras.load_spec({
        "spec_version": 1, "name": "clips",
        "data": {"path": os.path.join(root, "manifest.csv"),
                 "split": {"column": "split", "train": "train", "test": "test"}},
        "inputs": {"clip": {"type": "video", "column": "clip", "frames": frames, "height": size,
                            "width": size, "channels": channels, "encoder": encoder}},
        "fusion": {"hidden_units": [8]},
        "outputs": {"label": {"type": "classification", "column": "label"}},
        "training": {"epochs": 1, "batch_size": 4},
    })


# -- frames and sampling ------------------------------------------------------------------------


def test_list_frames_natural_order_and_extensions(tmp_path):
    for name in ["frame_10.png", "frame_2.jpg", "frame_1.PNG", "notes.txt", "frame_3.webm"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "frame_0.png").mkdir()
    assert [os.path.basename(p) for p in list_frames(str(tmp_path))] == ["frame_1.PNG", "frame_2.jpg", "frame_10.png"]


@pytest.mark.parametrize("count, frames, expected", [
    (10, 4, [1, 3, 6, 8]),    # stride 2.5, middle of each segment
    (7, 2, [1, 5]),
    (5, 5, [0, 1, 2, 3, 4]),
    (2, 4, [0, 1, 1, 1]),     # short: the last frame repeated
    (1, 3, [0, 0, 0]),
])
def test_sample_indices_in_evaluation(count, frames, expected):
    out = sample_indices(tf.constant(count), frames).numpy()
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, expected)


def test_sample_indices_in_training_use_one_random_offset():
    draws = np.stack([sample_indices(tf.constant(10), 4, training=True).numpy() for _ in range(200)])
    segments = np.floor(2.5 * np.arange(4)).astype(int)
    assert set(np.unique(draws[:, 0])) == {0, 1, 2}          # the offset covers the first segment
    assert np.all(draws - segments >= 0) and np.all(draws - segments <= 2)
    assert np.all(np.diff(draws, axis=1) >= 2)              # one offset for the clip: uniform spacing
    assert set(np.unique(draws)) == set(range(10))
    short = [sample_indices(tf.constant(3), 5, training=True).numpy().tolist() for _ in range(5)]
    assert short == [[0, 1, 2, 2, 2]] * 5


# -- resolving table cells -------------------------------------------------------------------------


def test_folder_json_list_and_list_cells_resolve_alike(clips):
    spec = video_spec(clips, frames=3).inputs["clip"]
    feature = VideoFeature(spec)
    frames = [os.path.join("clip1", f"frame_{k}.png") for k in (1, 2, 3, 4)]
    column = pd.Series(["clip1", json.dumps(frames), frames, [os.path.join(clips, f) for f in frames]], dtype=object)
    resolved = feature.resolve(column, root=clips)
    assert len(set(resolved)) == 1
    assert resolved[0].split("\x00") == [os.path.join(clips, f) for f in frames]
    assert feature.describe(resolved[0]) == f"folder {os.path.join(clips, 'clip1')} (4 frames)"
    mixed = feature.resolve(pd.Series([[frames[0], os.path.join("clip2", "frame_1.png")]]), root=clips)
    assert feature.describe(mixed[0]).startswith(f"frames {os.path.join(clips, frames[0])} ... ")


@pytest.mark.parametrize("cell, message", [
    ("no_such_clip", "folder not found: {root}/no_such_clip"),
    ("empty_clip", "no frame images .* in folder {root}/empty_clip"),
    ("clip0/frame_1.png", "{root}/clip0/frame_1.png is a file"),
    ('["clip0/frame_1.png", "clip0/gone.png"]', "frame file not found: {root}/clip0/gone.png"),
    ("[not json", r"'\[not json' is not a JSON list of frame paths"),
    ("[]", "empty list of frames"),
])
def test_bad_cells_name_row_column_and_path(clips, cell, message):
    os.makedirs(os.path.join(clips, "empty_clip"), exist_ok=True)
    spec = video_spec(clips)
    df = pd.read_csv(os.path.join(clips, "manifest.csv")).astype({"clip": object})
    pre = mmkeras.Preprocessor(spec).adapt(df)
    df.loc[1, "clip"] = cell
    with pytest.raises(mmkeras.DataError, match=r"Row 1 of t\.csv, column 'clip': " + message.format(root=clips)):
        mmkeras.make_dataset(spec, df, pre, table="t.csv")


# -- decoding ------------------------------------------------------------------------------------


def test_decode_three_ways_and_serving_format(tmp_path):
    root = str(tmp_path)
    write_clip(tmp_path / "long", [0, 50, 100, 150, 200, 250])
    write_clip(tmp_path / "short", [30, 60])
    spec = video_spec(root, frames=3, size=SIZE).inputs["clip"]
    feature = VideoFeature(spec)
    assert feature.shape == feature.decoded_shape == (3, SIZE, SIZE, 3)
    resolved = feature.resolve(pd.Series(["long", "short"]), root=root)
    expected = np.float32([[50, 150, 250], [30, 60, 60]]) / 255  # middle of 3 segments; short: last repeated
    expected = np.broadcast_to(expected[:, :, None, None, None], (2, 3, SIZE, SIZE, 3))

    eager = np.stack([feature.decode(feature.read(v)).numpy() for v in resolved])
    ds = tf.data.Dataset.from_tensor_slices(resolved).map(lambda v: feature.decode(feature.read(v)))
    mapped = np.stack([x.numpy() for x in ds])
    # Serving: one serialized string per clip, decoded in a batch by the Preprocessor.
    clip_bytes = [[open(p, "rb").read() for p in v.split("\x00")] for v in resolved]
    serving = np.array([encode_frames(c) for c in clip_bytes], dtype=object)
    np.testing.assert_array_equal(serving, [feature.read(v).numpy() for v in resolved])
    pre = mmkeras.Preprocessor(video_spec(root, frames=3, size=SIZE))
    served = pre({"clip": serving})["clip"].numpy()
    for out in (eager, mapped, served):
        assert out.shape == (2, 3, SIZE, SIZE, 3) and out.dtype == np.float32
        np.testing.assert_allclose(out, expected, atol=1e-6)

    gray = VideoFeature(video_spec(root, frames=2, channels=1, size=4).inputs["clip"])
    out = gray.decode(gray.read(resolved[0])).numpy()
    assert out.shape == (2, 4, 4, 1)
    np.testing.assert_allclose(out[:, 0, 0, 0], np.float32([50, 200]) / 255, atol=1e-5)


def test_corrupt_frame_error_names_row_column_and_frame(tmp_path):
    root = str(tmp_path)
    write_clip(tmp_path / "good", [10, 20, 30])
    write_clip(tmp_path / "bad", [10, 20, 30])
    (tmp_path / "bad" / "frame_2.png").write_bytes(b"not a png at all")
    df = pd.DataFrame({"clip": ["good", "bad"], "label": ["a", "b"]})
    spec = video_spec(root, frames=3)
    pre = mmkeras.Preprocessor(spec).adapt(df, root=root)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        list(mmkeras.make_dataset(spec, df, pre, root=root, table="t"))
    error = explain_op_error(info.value)
    assert str(error).startswith(f"row 1 of t, column 'clip', folder {os.path.join(root, 'bad')} (3 frames), frame 1")
    assert "Not a PNG" in str(error)


def test_random_offset_only_in_training_also_with_a_cache(tmp_path):
    root = str(tmp_path)
    write_clip(tmp_path / "long", [10 * k for k in range(10)])
    df = pd.DataFrame({"clip": ["long"] * 4, "label": ["a", "b"] * 2})
    spec = video_spec(root, frames=2)
    pre = mmkeras.Preprocessor(spec).adapt(df, root=root)

    def first_frames(**kwargs):
        ds = mmkeras.make_dataset(spec, df, pre, root=root, batch_size=4, with_targets=False, **kwargs)
        return {tuple(np.round(x["clip"][i, :, 0, 0, 0].numpy() * 255).astype(int))
                for _ in range(3) for x in ds for i in range(4)}

    assert first_frames() == {(20, 70)}  # frames 2 and 7 of 10
    for cache in ("none", "memory"):
        seen = first_frames(training=True, cache=cache)
        assert len(seen) > 1 and all(b - a == 50 for a, b in seen)  # offset varies, spacing does not


# -- encoder, model, export -------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["mean", "attention", "gru"])
def test_frames_cnn_trains_with_xla_and_saves(clips, tmp_path, pooling):
    spec = video_spec(clips, pooling=pooling, gru_units=4)
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    encoder = model.get_layer("clip_encoder")
    per_frame = encoder.get_layer("per_frame")
    assert isinstance(per_frame, keras.layers.TimeDistributed)
    assert per_frame.layer.get_layer("conv_0").filters == 4   # the image cnn, with the frame_encoder options
    assert encoder.output.shape == (None, 4 if pooling == "gru" else 8)
    if pooling == "gru":  # a cuDNN GRU would make Keras turn XLA off on GPUs
        assert encoder.get_layer("gru").use_cudnn is False
    if pooling == "gru":  # XLA compiles the train step (TimeDistributed + GRU); predict compiles the others
        mmkeras.training.fit(model, spec, mmkeras.make_dataset(spec, splits["train"], pre, training=True),
                             verbose=False)
    assert model.jit_compile is True
    test = mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False)
    expected = model.predict(test, verbose=0)["label"]
    model.save(str(tmp_path / "model.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "model.keras"), compile=False)
    np.testing.assert_allclose(loaded.predict(test, verbose=0)["label"], expected, atol=1e-6)
    if pooling == "gru":  # the SavedModel on raw inputs (one serialized string of frame files per clip)
        mmkeras.export_saved_model(model, pre, str(tmp_path / "export"))
        serve = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
        served = serve(clip=tf.constant(raw_batch(spec, splits["test"], clips)["clip"]))
        np.testing.assert_allclose(served["label_probabilities"].numpy(), expected, atol=1e-5)
        assert np.array_equal(raw_batch(spec, splits["test"], clips)["clip"],
                              read_clips(splits["test"]["clip"], root=clips))


@pytest.mark.parametrize("encoder, message", [
    ({"pooling": "max"}, "pooling 'max' is not one of mean, attention, gru"),
    ({"frame_encoder": {"type": "cnn", "bogus": 1}}, "'bogus' is not an option of the image encoder 'cnn'"),
    ({"frame_encoder": {"type": "nope"}}, "frame_encoder type 'nope' is not one of"),
])
def test_encoder_option_errors(clips, encoder, message):
    spec = video_spec(clips, **encoder)
    pre = mmkeras.Preprocessor(spec).adapt(mmkeras.load_splits(spec)["train"])
    with pytest.raises(ValueError, match=message):
        mmkeras.build_model(spec, pre, compile=False)


def test_video_spec_requires_size_and_knows_its_keys(clips):
    raw = {"spec_version": 1, "name": "v", "inputs": {"clip": {"type": "video", "column": "c", "width": 8}},
           "outputs": {"y": {"type": "classification", "column": "y"}}}
    with pytest.raises(SpecError, match=r"inputs\.clip\.height: is required"):
        mmkeras.load_spec(raw)
    raw["inputs"]["clip"].update(height=8, frames=0)
    with pytest.raises(SpecError, match=r"inputs\.clip\.frames: 0 is below the minimum 1"):
        mmkeras.load_spec(raw)
    raw["inputs"]["clip"]["frames"] = 4
    spec = mmkeras.load_spec(raw)
    assert spec.inputs["clip"].encoder.type == "frames_cnn" and spec.inputs["clip"].is_file
