"""build_model: graph layout, XLA really on, registries, save/load."""

import os

import keras
import numpy as np
import pytest

import mmkeras
from mmkeras.training import compile_model
from helpers import tiny_spec_dict

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host


@pytest.fixture(scope="module")
def built(demo_manifest):
    spec = mmkeras.load_spec(tiny_spec_dict(demo_manifest))
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    return spec, splits, pre, mmkeras.build_model(spec, pre)


def test_graph_reads_like_the_spec(built):
    spec, _, pre, model = built
    assert model.name == "demo"
    # Keras orders dict inputs by key; "_presence" is the missing-input mask (mmkeras.data.PRESENCE).
    assert sorted(t.name for t in model.inputs) == sorted([*spec.inputs, "_presence"])
    for name, inp in spec.inputs.items():
        encoder = model.get_layer(f"{name}_encoder")
        assert isinstance(encoder, keras.Model)
        assert tuple(encoder.inputs[0].shape[1:]) == tuple(pre.features[name].shape)
    assert type(model.get_layer("fusion")).__name__ == "ConcatFusion"
    assert list(model.output) == ["label"]
    assert model.get_layer("label").units == 8


def test_xla_is_really_on_after_compile_and_fit(built):
    spec, splits, pre, model = built
    assert model.jit_compile is True
    model.fit(mmkeras.make_dataset(spec, splits["train"], pre, training=True), epochs=1, verbose=0)
    assert model.jit_compile is True


def test_a_spec_name_tensorflow_refuses_as_a_scope_still_trains(built):
    """`name: log_mel+cnn (fold 1)` used to fail in fit ("not a valid root scope name")."""
    spec, splits, pre, _ = built
    spec = mmkeras.load_spec({**spec.to_dict(), "name": "log_mel+cnn (fold 1)"})
    model = mmkeras.build_model(spec, pre)
    assert model.name == "log_mel_cnn__fold_1_"
    model.fit(mmkeras.make_dataset(spec, splits["train"][:16], pre, training=True), epochs=1, verbose=0)


def test_a_layer_that_cannot_compile_is_an_error_not_silence(built):
    spec, _, pre, _ = built
    x = keras.Input((), dtype="string")
    ids = keras.layers.StringLookup(vocabulary=["a", "b"])(x)
    model = keras.Model(x, {"label": keras.layers.Dense(8, activation="softmax")(keras.ops.expand_dims(ids, -1))})
    with pytest.raises(RuntimeError, match="Keras turned XLA off"):
        compile_model(model, spec)


def test_custom_encoder_from_the_registry_is_used_and_saves(built, tmp_path):
    spec, splits, pre, _ = built

    @mmkeras.register_encoder("numeric", "test_squares", override=True)
    def squares(x, spec, feature, *, units=3):
        return keras.layers.Dense(units, name="squares")(keras.ops.square(x))

    spec_dict = spec.to_dict()
    spec_dict["inputs"]["reading"]["encoder"] = {"type": "test_squares", "units": 5}
    custom = mmkeras.load_spec(spec_dict)
    model = mmkeras.build_model(custom, pre)
    assert model.get_layer("reading_encoder").get_layer("squares").units == 5
    batch = next(iter(mmkeras.make_dataset(custom, splits["test"], pre, with_targets=False)))
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again.predict(batch, verbose=0)["label"],
                               model.predict(batch, verbose=0)["label"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("output, column", [("binary", "is_square"), ("regression", "reading")])
def test_binary_and_regression_heads_train(demo_manifest, output, column):
    import pandas as pd

    spec_dict = tiny_spec_dict(demo_manifest)
    df = pd.read_csv(demo_manifest)
    df["is_square"] = np.where(df["label"].str.startswith("square"), "yes", "no")
    df["reading"] = df["reading"].fillna(0.0)
    spec_dict["inputs"] = {"picture": spec_dict["inputs"]["picture"]}
    spec_dict["outputs"] = {"target": {"type": output, "column": column}}
    if output == "binary":
        spec_dict["outputs"]["target"]["positive"] = "yes"
    spec = mmkeras.load_spec(spec_dict)
    splits = mmkeras.split_table(spec, df)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    history = model.fit(mmkeras.make_dataset(spec, splits["train"], pre, training=True), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    if output == "binary":
        assert pre.targets["target"].classes == ["no", "yes"]
        assert model.get_layer("target").units == 1
