"""Image options: resize modes, RGBA, image bytes in the table, augmentation (training only), cnn/mlp encoders."""

import os

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.builders import build_encoder
from mmkeras.data import DataError
from mmkeras.data.image import ImageFeature, decode_image, resize_image
from mmkeras.specs import SpecError
from mmkeras.testing import three_ways

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host

SHARED_SPECS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "specs")


def png(pixels):
    return tf.io.encode_png(tf.constant(pixels, tf.uint8)).numpy()


def image_spec(encoder=None, **options):
    picture = {"type": "image", "column": "path", "height": 8, "width": 8, **options}
    if encoder:
        picture["encoder"] = encoder
    return mmkeras.load_spec({"spec_version": 1, "name": "t", "inputs": {"picture": picture},
                              "outputs": {"y": {"type": "classification", "column": "y"}},
                              "training": {"batch_size": 4, "epochs": 1}})


def pictures(dataset):
    return np.concatenate([batch["picture"].numpy() for batch in dataset])


def columns_image(height, width):
    """Gray pixel value = 10 * column + row, as uint8 [h, w, 3]."""
    values = 10 * np.arange(width)[None, :] + np.arange(height)[:, None]
    return np.repeat(values[..., None], 3, -1).astype(np.uint8)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """16 PNG files (8x8 RGB, two classes told apart by brightness) and their table."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(16):
        label = "ab"[i % 2]
        pixels = rng.integers(0, 120, (8, 8, 3)) + (120 if label == "b" else 0)
        path = root / f"{i}.png"
        path.write_bytes(png(pixels))
        rows.append({"path": str(path), "y": label})
    return pd.DataFrame(rows)


# -- spec ---------------------------------------------------------------------------------------
def test_defaults_keep_existing_behaviour():
    s = image_spec().inputs["picture"]
    assert (s.channels, s.resize, s.pad_value, s.augment.enabled) == (3, "stretch", 0.0, False)
    assert ImageFeature(s).augmenters == []
    again = mmkeras.load_spec(image_spec(resize="pad", augment={"flip": "horizontal", "zoom": 0.1}).to_dict())
    assert again.inputs["picture"].augment.flip == "horizontal" and again.inputs["picture"].augment.zoom == 0.1
    assert again.inputs["picture"].resize == "pad"


@pytest.mark.skipif(not os.path.isfile(os.path.join(SHARED_SPECS, "openmoji.yaml")), reason="../shared absent")
def test_openmoji_spec_loads_with_the_old_defaults():
    picture = mmkeras.load_spec(os.path.join(SHARED_SPECS, "openmoji.yaml")).inputs["picture"]
    assert picture.resize == "stretch" and not picture.augment.enabled


@pytest.mark.parametrize("options, message", [
    ({"resize": "squash"}, "inputs.picture.resize: 'squash' is not one of stretch, crop, pad"),
    ({"channels": 2}, "inputs.picture.channels: 2 is not one of 1, 3, 4"),
    ({"pad_value": 2}, "inputs.picture.pad_value: 2.0 is too large; it must be at most 1"),
    ({"augment": {"flipp": "horizontal"}}, "inputs.picture.augment.flipp: unknown key. Allowed keys: contrast, flip"),
    ({"augment": {"flip": "diagonal"}}, "inputs.picture.augment.flip: 'diagonal' is not one of none, horizontal"),
    ({"augment": {"rotation": -0.1}}, "inputs.picture.augment.rotation: -0.1 is below the minimum 0"),
    ({"augment": {"zoom": 1}}, "inputs.picture.augment.zoom: 1.0 is too large; it must be below 1"),
    ({"augment": {"contrast": "high"}}, "inputs.picture.augment.contrast: 'high' is not a number"),
    ({"augment": [0.1]}, "inputs.picture.augment: [0.1] is not a mapping"),
])
def test_spec_errors_name_the_key_and_value(options, message):
    with pytest.raises(SpecError) as info:
        image_spec(**options)
    assert message in str(info.value)


# -- decoding -----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, expected", [((4, 12), np.s_[:, 4:8]), ((12, 4), np.s_[4:8, :])])
def test_crop_keeps_the_center_at_the_output_aspect(shape, expected):
    pixels = columns_image(*shape)
    outs = three_ways(lambda d: decode_image(d, height=4, width=4, channels=3, resize="crop"), [png(pixels)] * 2)
    for out in outs:
        np.testing.assert_allclose(out[0], pixels[expected] / 255.0, atol=1e-6)


def test_crop_then_resize_equals_resizing_the_center_crop():
    pixels = np.random.default_rng(1).integers(0, 256, (8, 24, 3)).astype(np.uint8)
    out = decode_image(png(pixels), height=4, width=4, channels=3, resize="crop").numpy()
    center = pixels[:, 8:16].astype(np.float32) / 255.0
    np.testing.assert_allclose(out, tf.image.resize(center, [4, 4], antialias=True).numpy(), atol=1e-6)
    stretched = decode_image(png(pixels), height=4, width=4, channels=3).numpy()
    assert np.abs(stretched - out).max() > 0.1


def test_pad_letterboxes_with_pad_value():
    white = np.full((1, 4, 3), 255, np.uint8)   # 3 border rows: 1 above, 2 below
    for out in three_ways(lambda d: decode_image(d, height=4, width=4, channels=3, resize="pad", pad_value=0.25),
                          [png(white)] * 2):
        np.testing.assert_allclose(out[0, :, 0, 0], [0.25, 1.0, 0.25, 0.25], atol=1e-6)
    tall = decode_image(png(np.full((4, 2, 3), 255, np.uint8)), height=4, width=4, channels=1,
                        resize="pad").numpy()[..., 0]
    np.testing.assert_allclose(tall, np.tile([0.0, 1.0, 1.0, 0.0], (4, 1)), atol=1e-6)
    # same aspect ratio: nothing added, the same as stretch
    square = png(np.random.default_rng(2).integers(0, 256, (6, 6, 3)))
    np.testing.assert_allclose(decode_image(square, height=3, width=3, channels=3, resize="pad"),
                               decode_image(square, height=3, width=3, channels=3), atol=1e-6)


def test_resize_image_rejects_unknown_mode():
    with pytest.raises(ValueError, match="'squash' is not one of stretch, crop, pad"):
        resize_image(tf.zeros([2, 2, 1]), 2, 2, "squash")


def test_four_channels_keep_alpha():
    rgba = np.random.default_rng(3).integers(0, 256, (3, 5, 4)).astype(np.uint8)
    for out in three_ways(lambda d: decode_image(d, height=3, width=5, channels=4), [png(rgba)] * 2):
        np.testing.assert_allclose(out[0], rgba / 255.0, atol=1e-6)
    rgb = decode_image(png(rgba[..., :3]), height=3, width=5, channels=4).numpy()
    np.testing.assert_allclose(rgb[..., :3], rgba[..., :3] / 255.0, atol=1e-6)
    np.testing.assert_allclose(rgb[..., 3], 1.0)
    gray_alpha = decode_image(png(rgba[..., 2:]), height=3, width=5, channels=4).numpy()
    np.testing.assert_allclose(gray_alpha, np.concatenate([np.repeat(rgba[..., 2:3], 3, -1), rgba[..., 3:]], -1)
                               / 255.0, atol=1e-6)


def test_image_bytes_in_the_table_decode_like_files(table):
    spec = image_spec()
    pre = mmkeras.Preprocessor(spec).adapt(table)
    raw = [open(p, "rb").read() for p in table["path"]]
    cells = table.assign(path=[raw[i] if i % 3 == 0 else {"bytes": raw[i], "path": None} if i % 3 == 1
                               else table["path"][i] for i in range(len(table))])
    from_files = pictures(mmkeras.make_dataset(spec, table, pre, with_targets=False))
    from_cells = pictures(mmkeras.make_dataset(spec, cells, pre, with_targets=False))
    np.testing.assert_allclose(from_cells, from_files, atol=0)
    context = pre.contexts(cells, "picture", pre.raw_columns(cells)["picture"])
    assert context[0].endswith(f"{len(raw[0])} bytes of image data in the table")
    assert context[2].endswith(f"file {table['path'][2]}")


@pytest.mark.parametrize("cell, message", [(b"RIFF\0\0\0\0WAVE", "Row 1 of t.parquet, column 'path': 12 bytes that"),
                                           ("missing.png", "Row 1 of t.parquet, column 'path': file not found")])
def test_bad_cells_name_row_and_column(table, cell, message):
    cells = pd.Series([open(table["path"][0], "rb").read(), cell], dtype=object)
    with pytest.raises(DataError, match=message):
        ImageFeature(image_spec().inputs["picture"]).resolve(cells, root=str(os.path.dirname(table["path"][0])),
                                                             table="t.parquet")


# -- augmentation -------------------------------------------------------------------------------
AUGMENT_ALL = {"flip": "horizontal", "rotation": 0.1, "zoom": 0.2, "contrast": 0.5, "translation": 0.2}


@pytest.mark.parametrize("augment", [{"flip": "horizontal_and_vertical"}, {"rotation": 0.2}, {"zoom": 0.5},
                                     {"contrast": 0.9}, {"translation": 0.3}, AUGMENT_ALL])
def test_augmentation_only_when_training(augment):
    feature = ImageFeature(image_spec(augment=augment).inputs["picture"])
    batch = tf.constant(np.random.default_rng(4).random((6, 8, 8, 3)), tf.float32)
    assert feature.transform(batch, training=False) is batch
    first, second = feature.transform(batch, training=True), feature.transform(batch, training=True)
    assert first.shape == batch.shape and first.dtype == tf.float32
    assert float(tf.reduce_min(first)) >= 0.0 and float(tf.reduce_max(first)) <= 1.0
    assert not np.allclose(first, batch) and not np.allclose(first, second)
    if "flip" in augment and len(augment) == 1:  # every image is itself or a mirror of itself
        x = batch.numpy()
        mirrors = [x, x[:, ::-1], x[:, :, ::-1], x[:, ::-1, ::-1]]
        assert all(any(np.allclose(first[i], m[i]) for m in mirrors) for i in range(6))


def test_augmentation_repeats_in_a_new_run():
    spec = image_spec(augment=AUGMENT_ALL).inputs["picture"]
    batch = tf.constant(np.random.default_rng(6).random((4, 8, 8, 3)), tf.float32)
    first = ImageFeature(spec).transform(batch, training=True)
    np.testing.assert_array_equal(ImageFeature(spec).transform(batch, training=True), first)


def test_four_channel_contrast_keeps_alpha():
    feature = ImageFeature(image_spec(channels=4, augment={"contrast": 0.9}).inputs["picture"])
    batch = tf.constant(np.random.default_rng(5).random((4, 8, 8, 4)), tf.float32)
    out = feature.transform(batch, training=True).numpy()
    np.testing.assert_array_equal(out[..., 3], batch.numpy()[..., 3])
    assert not np.allclose(out[..., :3], batch.numpy()[..., :3])


def test_pipeline_augments_training_batches_only(table):
    spec = image_spec(augment=AUGMENT_ALL)
    pre = mmkeras.Preprocessor(spec).adapt(table)

    def images(**kw):
        return pictures(mmkeras.make_dataset(spec, table, pre, with_targets=False, shuffle=False, **kw))
    plain = images()
    np.testing.assert_array_equal(images(), plain)
    np.testing.assert_array_equal(images(cache="memory"), plain)
    augmented = images(training=True)
    assert augmented.shape == plain.shape and not np.allclose(augmented, plain)
    assert not np.allclose(images(training=True, cache="memory"), augmented)


def test_export_with_augment_and_pad_equals_in_memory(table, tmp_path):
    spec = image_spec(encoder={"type": "cnn", "filters": [4], "dense_units": 8}, resize="pad", pad_value=0.5,
                      augment=AUGMENT_ALL)
    pre = mmkeras.Preprocessor(spec).adapt(table)
    model = mmkeras.build_model(spec, pre)
    model.fit(mmkeras.make_dataset(spec, table, pre, training=True), epochs=1, verbose=0)
    pre.save(str(tmp_path / "pre"))
    again = mmkeras.Preprocessor.load(str(tmp_path / "pre"))
    assert again.spec.inputs["picture"] == spec.inputs["picture"]
    mmkeras.export_saved_model(model, again, str(tmp_path / "export"))
    serve = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    raw = tf.constant([open(p, "rb").read() for p in table["path"]])
    served = [serve(picture=raw)["y_probabilities"].numpy() for _ in range(2)]
    expected = model.predict(mmkeras.make_dataset(spec, table, pre, with_targets=False), verbose=0)["y"]
    np.testing.assert_allclose(served[0], expected, atol=1e-5)
    np.testing.assert_array_equal(served[0], served[1])


# -- cnn and mlp encoders -----------------------------------------------------------------------
def encoder_model(**encoder):
    spec = image_spec(encoder=encoder, channels=1)
    return build_encoder(spec.inputs["picture"], ImageFeature(spec.inputs["picture"]))


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_cnn_defaults_are_the_former_architecture():
    model = encoder_model(type="cnn")
    assert layer_types(model) == ["InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert model.output.shape == (None, 128) and model.get_layer("conv_1").filters == 64


def test_cnn_blocks_batch_norm_and_pooling():
    model = encoder_model(type="cnn", filters=[4, 6], convs_per_block=2, batch_norm=True, pooling="average",
                          global_pooling="average", dense_units=0)
    assert [n for n in (layer.name for layer in model.layers) if n.startswith("conv_") and "_bn" not in n
            and "_relu" not in n] == ["conv_0_0", "conv_0_1", "conv_1_0", "conv_1_1"]
    assert layer_types(model).count("BatchNormalization") == 4 and layer_types(model).count("AveragePooling2D") == 2
    assert model.output.shape == (None, 6)
    flat = encoder_model(type="cnn", filters=[3], pooling="none", global_pooling="flatten", dense_units=0)
    assert flat.output.shape == (None, 8 * 8 * 3)
    assert encoder_model(type="cnn", filters=[5], global_pooling="max", dense_units=0).output.shape == (None, 5)


def test_mlp_flattens_then_dense_layers():
    model = encoder_model(type="mlp", units=[16, 4], dropout=0.1)
    assert layer_types(model) == ["InputLayer", "Flatten", "Dense", "Dropout", "Dense", "Dropout"]
    assert model.get_layer("dense_0").kernel.shape == (64, 16) and model.output.shape == (None, 4)


@pytest.mark.parametrize("encoder, message", [
    ({"type": "cnn", "pooling": "min"}, "Input 'picture': encoder option pooling='min' is not one of max, average"),
    ({"type": "cnn", "global_pooling": "none"}, "global_pooling='none' is not one of flatten, average, max"),
    ({"type": "cnn", "filters": []}, "filters=[] is not a non-empty list of positive integers"),
    ({"type": "mlp", "units": [8, -1]}, "units=[8, -1] is not a non-empty list of positive integers"),
])
def test_encoder_option_errors(encoder, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        encoder_model(**encoder)


@pytest.mark.parametrize("encoder", [{"type": "cnn", "filters": [4], "convs_per_block": 2, "batch_norm": True,
                                      "global_pooling": "average", "dense_units": 8},
                                     {"type": "mlp", "units": [8]}])
def test_cnn_and_mlp_train_with_xla_and_save(table, tmp_path, encoder):
    spec = image_spec(encoder=encoder, channels=1, resize="crop", augment={"flip": "horizontal"})
    pre = mmkeras.Preprocessor(spec).adapt(table)
    model = mmkeras.build_model(spec, pre)
    assert model.jit_compile is True
    history = model.fit(mmkeras.make_dataset(spec, table, pre, training=True), epochs=1, verbose=0)
    assert model.jit_compile is True and np.isfinite(history.history["loss"][0])
    batch = next(iter(mmkeras.make_dataset(spec, table, pre, with_targets=False)))
    model.save(str(tmp_path / "m.keras"))
    again = keras.saving.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_allclose(again.predict(batch, verbose=0)["y"], model.predict(batch, verbose=0)["y"], atol=1e-6)
