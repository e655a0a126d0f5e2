"""keras.applications backbones as image encoders: preprocessing, weights (null or a local file), freezing, XLA, export.

No test downloads weights: `weights: imagenet` is checked by recording what
reaches the keras.applications constructor.
"""

import os

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import yaml

import mmkeras
from mmkeras.builders import build_encoder
from mmkeras.data.image import ImageFeature
from mmkeras.encoders import ENCODERS
from mmkeras.encoders.image_backbones import BACKBONES, BackboneInput
from mmkeras.specs import SpecError

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host

REPO_SPECS = os.path.join(os.path.dirname(__file__), "..", "data_specs")


def spec_dict(encoder, size=32, channels=3, **picture):
    return {"spec_version": 1, "name": "t",
            "inputs": {"picture": {"type": "image", "column": "path", "height": size, "width": size,
                                   "channels": channels, "encoder": encoder, **picture}},
            "outputs": {"y": {"type": "classification", "column": "y"}},
            "training": {"batch_size": 4, "epochs": 1}}


def encoder_model(encoder, size=32, channels=3, base_dir=None):
    spec = mmkeras.load_spec(spec_dict(encoder, size, channels), base_dir=base_dir).inputs["picture"]
    return build_encoder(spec, ImageFeature(spec))


def backbone_of(encoder):
    return next(layer for layer in encoder.layers if isinstance(layer, keras.Model))


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(8):
        path = root / f"{i}.png"
        path.write_bytes(tf.io.encode_png(rng.integers(0, 256, (24, 40, 3)).astype(np.uint8)).numpy())
        rows.append({"path": str(path), "y": "ab"[i % 2]})
    return pd.DataFrame(rows)


def test_the_named_backbones_are_encoder_types():
    names = ENCODERS.names_for("image")
    for name in ("resnet50", "mobilenet_v3_small", "efficientnet_b0", "cnn", "mlp"):
        assert name in names
    assert set(ENCODERS.options_for("image", "resnet50")) == {"weights", "trainable", "fine_tune_from", "pooling",
                                                              "dropout", "dense_units"}


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_backbone_input_is_the_backbones_own_preprocessing(backbone):
    images = np.random.default_rng(1).random((2, 32, 32, 3)).astype(np.float32)
    module = getattr(keras.applications, BACKBONES[backbone].module)
    expected = module.preprocess_input(images * 255.0)
    np.testing.assert_allclose(BackboneInput(backbone, 32, 32)(images), expected, rtol=1e-5, atol=1e-3)
    if backbone == "resnet50":  # caffe: BGR, ImageNet means subtracted
        np.testing.assert_allclose(expected[..., 0], images[..., 2] * 255.0 - 103.939, atol=1e-3)
    if backbone == "mobilenet_v2":  # [-1, 1]
        np.testing.assert_allclose(expected, images * 2.0 - 1.0, atol=1e-5)


def test_backbone_input_tiles_gray_resizes_and_round_trips_its_config():
    gray = np.random.default_rng(2).random((2, 16, 16, 1)).astype(np.float32)
    layer = BackboneInput("efficientnet_b0", 32, 32)
    out = keras.ops.convert_to_numpy(layer(gray))
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(out[..., 0], out[..., 2])
    np.testing.assert_allclose(out[:, ::2, ::2, 0].mean(), gray.mean() * 255.0, rtol=0.02)
    again = BackboneInput.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()


def test_weights_path_is_relative_to_the_spec_file(tmp_path):
    (tmp_path / "specs").mkdir()
    path = tmp_path / "specs" / "s.yaml"
    for weights, expected in [("../w/bb.weights.h5", str(tmp_path / "w" / "bb.weights.h5")),
                              ("imagenet", "imagenet"), (None, None)]:
        path.write_text(yaml.safe_dump(spec_dict({"type": "resnet50", "weights": weights})))
        assert mmkeras.load_spec(str(path)).inputs["picture"].encoder.options["weights"] == expected
    with pytest.raises(SpecError, match="inputs.picture.encoder.alpha: unknown option for the image encoder "
                                        "'mobilenet_v3_small'. Allowed: weights, trainable"):
        mmkeras.load_spec(spec_dict({"type": "mobilenet_v3_small", "alpha": 0.5}))


@pytest.mark.parametrize("encoder, channels, message", [
    ({"weights": "missing.weights.h5"}, 3, "encoder option weights='.*missing.weights.h5' is not null, imagenet or"),
    ({}, 4, "pretrained backbones take channels 1 or 3, got 4"),
    ({"trainable": True, "fine_tune_from": 3}, 3, "fine_tune_from=3 unfreezes the top layers"),
    ({"fine_tune_from": 0}, 3, "fine_tune_from=0 is not a positive integer"),
    ({"pooling": "mean"}, 3, "pooling='mean' is not one of avg, max"),
    ({"trainable": "yes"}, 3, "trainable='yes' is not true, false or null"),
    ({"fine_tune_from": 10000}, 3, "fine_tune_from=10000 but mobilenet_v3_small has only"),
])
def test_option_errors_name_the_input(tmp_path, encoder, channels, message):
    with pytest.raises(ValueError, match="Input 'picture': .*" + message):
        encoder_model({"type": "mobilenet_v3_small", **encoder}, channels=channels, base_dir=str(tmp_path))


def test_imagenet_reaches_keras_applications(monkeypatch):
    calls = []
    original = keras.applications.MobileNetV3Small

    def recording(**kwargs):
        calls.append(kwargs)
        return original(**{**kwargs, "weights": None})  # never download in a test

    monkeypatch.setattr(keras.applications, "MobileNetV3Small", recording)
    encoder = encoder_model({"type": "mobilenet_v3_small", "weights": "imagenet"})
    assert calls[0]["weights"] == "imagenet" and calls[0]["include_top"] is False
    assert calls[0]["input_shape"] == (32, 32, 3)
    assert backbone_of(encoder).trainable_weights == []  # pretrained: frozen by default


@pytest.mark.parametrize("backbone", ["resnet50", "efficientnet_b0"])
def test_weights_null_gray_and_small_images_build_and_run_under_xla(backbone):
    encoder = encoder_model({"type": backbone, "dense_units": 8}, size=16, channels=1)
    inner = backbone_of(encoder)
    assert inner.name == backbone and inner.input.shape == (None, 32, 32, 3)   # 16x16 gray -> 32x32 RGB
    assert len(inner.trainable_weights) == len([w for w in inner.weights if w.trainable]) > 0
    assert encoder.output.shape == (None, 8)
    images = np.random.default_rng(3).random((2, 16, 16, 1)).astype(np.float32)
    eager = keras.ops.convert_to_numpy(encoder(images, training=False))
    compiled = tf.function(lambda x: encoder(x, training=False), jit_compile=True)(images).numpy()
    np.testing.assert_allclose(compiled, eager, rtol=1e-4, atol=1e-4)


def test_local_weights_file_frozen_fine_tuning_xla_save_and_export(table, tmp_path):
    keras.utils.set_random_seed(7)
    source = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3),
                                                 pooling="avg")
    (tmp_path / "weights").mkdir()
    source.save_weights(str(tmp_path / "weights" / "small.weights.h5"))
    spec = mmkeras.load_spec(spec_dict({"type": "mobilenet_v3_small", "weights": "weights/small.weights.h5",
                                        "fine_tune_from": 4}, channels=1, resize="crop",
                                       augment={"flip": "horizontal"}),
                             base_dir=str(tmp_path))
    pre = mmkeras.Preprocessor(spec).adapt(table)
    model = mmkeras.build_model(spec, pre)
    assert model.jit_compile is True
    backbone = backbone_of(model.get_layer("picture_encoder"))
    for loaded, saved in zip(backbone.weights, source.weights):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())
    # fine_tune_from: 4: only the top 4 layers train, and never a BatchNormalization
    trainable = [layer for layer in backbone.layers if layer.trainable_weights]
    assert trainable and all(layer in backbone.layers[-4:] for layer in trainable)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)
    frozen = {w.path: w.numpy() for w in backbone.non_trainable_weights}
    tuned = {w.path: w.numpy() for w in backbone.trainable_weights}

    model.fit(mmkeras.make_dataset(spec, table, pre, training=True), epochs=1, verbose=0)
    assert model.jit_compile is True
    assert all(np.array_equal(w.numpy(), frozen[w.path]) for w in backbone.non_trainable_weights)
    assert any(not np.array_equal(w.numpy(), tuned[w.path]) for w in backbone.trainable_weights)

    batch = next(iter(mmkeras.make_dataset(spec, table, pre, with_targets=False)))
    expected = model.predict(batch, verbose=0)["y"]
    model.save(str(tmp_path / "m.keras"))
    again = keras.saving.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(batch, training=False)["y"]), expected, atol=1e-5)
    mmkeras.export_saved_model(model, pre, str(tmp_path / "export"))
    serve = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    served = serve(picture=tf.constant([open(p, "rb").read() for p in table["path"][:4]]))
    np.testing.assert_allclose(served["y_probabilities"].numpy(), expected, atol=1e-5)


def test_a_weights_file_of_another_backbone_is_a_clear_error(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    model.save_weights(str(tmp_path / "dense.weights.h5"))
    with pytest.raises(ValueError, match=r"Input 'picture': cannot load weights file .*dense.weights.h5 into a "
                                         r"mobilenet_v3_small backbone built for 32x32x3"):
        encoder_model({"type": "mobilenet_v3_small", "weights": "dense.weights.h5"}, base_dir=str(tmp_path))


def test_example_spec_loads():
    spec = mmkeras.load_spec(os.path.join(REPO_SPECS, "openmoji_backbone.yaml"))
    picture = spec.inputs["picture"]
    assert picture.encoder.type == "mobilenet_v3_small" and picture.augment.enabled
    assert picture.resize == "pad" and os.path.isabs(spec.data.path)
