"""`mmkeras export RUN_DIR --format onnx|litert`: the tensor-input model converted, checked in onnxruntime and the
TFLite interpreter against Keras to 1e-5, and a clear message for an op a format cannot hold.

The av_digits check (../shared) is opt-in: MMKERAS_EXPORT_SHARED=1."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmkeras.cli import main
from mmkeras.export.litert import convert_litert
from mmkeras.export.onnx import convert_onnx
from mmkeras.errors import ExportError
from mmkeras.runs.exports import export_format
from mmkeras.runs.lifecycle import train_run
from mmkeras.testing import tiny_spec_dict

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")
SHARED_SPEC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared",
                           "specs", "av_digits.yaml")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, demo_manifest):
    """A one-epoch run on the picture, caption and colour inputs: a CNN, an embedding bag, a lookup embedding."""
    spec = tiny_spec_dict(demo_manifest, jit_compile=False)
    spec["inputs"] = {k: spec["inputs"][k] for k in ("picture", "caption", "colour")}
    spec["inputs"]["picture"]["encoder"] = {"type": "cnn", "filters": [4], "dense_units": 8}
    run = str(tmp_path_factory.mktemp("export") / "run")
    train_run(spec, run, verbose=False, report=False)
    return run


@pytest.mark.parametrize("fmt, file_name", [("onnx", "model.onnx"), ("litert", "model.tflite")])
def test_export_is_checked_against_keras(run_dir, fmt, file_name, capsys):
    assert main(["export", run_dir, "--format", fmt]) == 0
    printed = capsys.readouterr().out
    folder = os.path.join(run_dir, fmt)
    assert sorted(os.listdir(folder)) == ["export.json", file_name]
    info = json.load(open(os.path.join(folder, "export.json")))
    assert [i["name"] for i in info["inputs"]] == ["presence", "caption", "colour", "picture"]
    assert info["inputs"][0]["model_input"] == "_presence" and info["outputs"] == ["label"]
    check = info["check"]
    assert check["data"].startswith("test split") and check["max_abs_difference"]["label"] <= 1e-5
    assert "preprocessing" in printed and "saved_model" in printed and "1e-05" in printed
    assert main(["export", run_dir, "--format", fmt]) == 2          # an existing folder needs --overwrite
    assert "already exists" in capsys.readouterr().err


def test_onnx_runs_without_tensorflow_on_preprocessed_tensors(run_dir):
    import onnxruntime
    folder = os.path.join(run_dir, "onnx")
    if not os.path.exists(folder):
        export_format(run_dir, "onnx")
    session = onnxruntime.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
    feed = {"presence": np.ones([2, 3], np.float32), "caption": np.zeros([2, 12], np.int64),
            "colour": np.array([[1], [2]], np.int64), "picture": np.zeros([2, 32, 32, 3], np.float32)}
    probabilities = session.run(None, feed)[0]
    assert probabilities.shape == (2, 8)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


class Igamma(keras.layers.Layer):
    def call(self, x):
        return tf.math.igamma(x + 1.0, x + 1.0)


def _unsupported_model():
    inputs = keras.Input((3,), name="x")
    return keras.Model(inputs, {"y": keras.layers.Dense(1)(Igamma()(inputs))}, name="odd")


def test_an_op_onnx_cannot_hold_is_named(tmp_path):
    with pytest.raises(ExportError, match="(?i)igamma.*odd|odd.*igamma"):
        convert_onnx(_unsupported_model(), str(tmp_path / "m.onnx"))
    assert not os.path.exists(tmp_path / "m.onnx")


def test_an_op_litert_cannot_hold_is_named():
    with pytest.raises(ExportError, match="LiteRT has no built-in op for Igamma in model 'odd'"):
        convert_litert(_unsupported_model())


@pytest.mark.skipif(os.environ.get("MMKERAS_EXPORT_SHARED") != "1" or not os.path.exists(SHARED_SPEC),
                    reason="opt-in (MMKERAS_EXPORT_SHARED=1) and needs ../shared/specs/av_digits.yaml")
def test_av_digits_exports_to_onnx_and_litert(tmp_path):
    run = str(tmp_path / "av_digits")
    train_run(SHARED_SPEC, run, epochs=1, verbose=False)
    for fmt in ("onnx", "litert"):
        _, info = export_format(run, fmt)
        assert max(info["check"]["max_abs_difference"].values()) <= 1e-5
