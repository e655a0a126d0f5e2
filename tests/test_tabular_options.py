"""Tabular options: numeric imputation/normalisation/clipping, categorical vocabularies, multi-hot, boolean."""

import json
import math
import os

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.data.boolean import BooleanFeature
from mmkeras.data.multi_hot import MultiHotFeature, split_values
from mmkeras.data.tabular import CategoricalFeature, NumericFeature, frequent_values
from mmkeras.specs import SpecError
from mmkeras.testing import three_ways

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host

REPO_SPECS = os.path.join(os.path.dirname(__file__), "..", "data_specs")
OPENMOJI = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "openmoji", "manifest.csv")


def input_spec(kind, **options):
    return mmkeras.load_spec({
        "spec_version": 1, "name": "t",
        "inputs": {"f": {"type": kind, "column": "col", **options}},
        "outputs": {"y": {"type": "classification", "column": "label"}},
    }).inputs["f"]


def check_three_ways(feature, values, dtype, expected):
    for out in three_ways(feature.transform, values, per_batch=True, dtype=dtype, batch_size=3):
        assert out.shape == expected.shape and out.dtype == expected.dtype
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def round_trip(feature_class, spec, feature):
    """A fresh feature given `feature`'s state through JSON."""
    other = feature_class(spec)
    other.set_state(json.loads(json.dumps(feature.get_state())))
    return other


# -- numeric ------------------------------------------------------------------------------------

TRAIN = np.array([1.0, 2.0, 3.0, 10.0, np.nan], np.float32)


@pytest.mark.parametrize("impute, fill", [("mean", 4.0), ("median", 2.5), ("constant", -1.0)])
def test_numeric_imputation_with_missing_indicator(impute, fill):
    spec = input_spec("numeric", impute=impute, fill_value=-1.0, missing_indicator=True)
    feature = NumericFeature(spec).adapt(TRAIN)
    assert feature.fill == pytest.approx(fill)
    assert feature.shape == (2,)
    finite = np.array([1.0, 2.0, 3.0, 10.0])
    mean, std = finite.mean(), finite.std()
    values = [np.nan, 3.0, np.inf, 10.0]
    expected = np.array([[(fill - mean) / std, 1.0], [(3 - mean) / std, 0.0],
                         [(fill - mean) / std, 1.0], [(10 - mean) / std, 0.0]], np.float32)
    check_three_ways(feature, values, tf.float32, expected)


def test_numeric_minmax_log1p_none_and_clip():
    values = [np.nan, -3.0, 0.0, 5.0, 100.0]
    minmax = NumericFeature(input_spec("numeric", normalization="minmax")).adapt(TRAIN)
    expected = np.array([[(4 - 1) / 9], [-4 / 9], [-1 / 9], [4 / 9], [99 / 9]], np.float32)
    check_three_ways(minmax, values, tf.float32, expected)

    log = NumericFeature(input_spec("numeric", normalization="log1p")).adapt(TRAIN)
    logs = np.log1p([1.0, 2.0, 3.0, 10.0])
    signed = np.sign(np.float64([4.0, -3.0, 0.0, 5.0, 100.0])) * np.log1p(np.abs([4.0, -3.0, 0.0, 5.0, 100.0]))
    expected = ((signed - logs.mean()) / logs.std()).astype(np.float32)[:, None]
    check_three_ways(log, values, tf.float32, expected)  # negative values stay finite (signed log1p)

    raw = NumericFeature(input_spec("numeric", normalization="none", impute="median")).adapt(TRAIN)
    check_three_ways(raw, values, tf.float32, np.array([[2.5], [-3.0], [0.0], [5.0], [100.0]], np.float32))

    # Clipping comes first: statistics are those of the clipped training values.
    clipped = NumericFeature(input_spec("numeric", clip=[0, 4], normalization="minmax")).adapt(TRAIN)
    assert (clipped.mean, clipped.variance) == (1.0, 9.0)  # min 1, (max 4 - min 1) ** 2
    assert clipped.fill == pytest.approx(np.mean([1.0, 2.0, 3.0, 4.0]))
    expected = np.array([[(2.5 - 1) / 3], [-1 / 3], [-1 / 3], [1.0], [1.0]], np.float32)
    check_three_ways(clipped, values, tf.float32, expected)


def test_numeric_constant_column_is_shifted_not_blown_up():
    feature = NumericFeature(input_spec("numeric")).adapt([5.0, 5.0, np.nan])
    np.testing.assert_allclose(feature.transform(tf.constant([5.0, 7.0, np.nan])).numpy()[:, 0], [0, 2, 0])


@pytest.mark.parametrize("clip", [[3, 1], [1], [1, 2, 3]])
def test_numeric_bad_clip_is_a_spec_error(clip):
    with pytest.raises(SpecError, match=r"inputs\.f\.clip: .* is not \[low, high\]"):
        input_spec("numeric", clip=clip)


def test_numeric_state_round_trip_and_old_state():
    spec = input_spec("numeric", impute="median", missing_indicator=True, normalization="log1p", clip=[0, 50])
    feature = NumericFeature(spec).adapt(np.random.default_rng(0).exponential(5.0, size=40))
    other = round_trip(NumericFeature, spec, feature)
    values = tf.constant([np.nan, -1.0, 0.0, 5.0, 100.0], tf.float32)
    np.testing.assert_array_equal(other.transform(values).numpy(), feature.transform(values).numpy())
    # A state saved before imputation options existed imputes the mean.
    old = NumericFeature(input_spec("numeric"))
    old.set_state({"mean": 2.0, "variance": 4.0})
    np.testing.assert_allclose(old.transform(tf.constant([np.nan, 4.0])).numpy()[:, 0], [0.0, 1.0])


# -- categorical ---------------------------------------------------------------------------------


def test_frequent_values():
    values = ["b", "a", "a", "", "c", "a", "b", "d", "c", "b", "e"]
    assert frequent_values(values) == ["a", "b", "c", "d", "e"]
    assert frequent_values(values, min_frequency=2) == ["a", "b", "c"]
    assert frequent_values(values, min_frequency=2, max_tokens=2) == ["a", "b"]


def test_categorical_min_frequency_and_integer_categories():
    # Read from a CSV with a missing value, integer categories are floats: 2.0 is still "2".
    df = pd.DataFrame({"col": [2, 3, 3, np.nan, 2, 7, 3]})
    spec = input_spec("categorical", min_frequency=2)
    pre_values = CategoricalFeature(spec).resolve(df["col"], root=".")
    assert list(pre_values) == ["2", "3", "3", "", "2", "7", "3"]
    feature = CategoricalFeature(spec).adapt(pre_values)
    assert feature.get_state()["vocabulary"] == ["3", "2"]   # 7 is seen once
    check_three_ways(feature, ["2", "3", "7", "", "zebra"], tf.string, np.array([[2], [1], [0], [0], [0]]))
    with pytest.raises(ValueError, match="at least 5 time"):
        CategoricalFeature(input_spec("categorical", min_frequency=5)).adapt(pre_values)


def test_categorical_one_hot():
    spec = input_spec("categorical", encoding="one_hot", max_tokens=2)
    feature = CategoricalFeature(spec).adapt(["x", "y", "y", "z", "y", "x"])
    assert feature.shape == (3,) and feature.dtype == "float32" and feature.vocabulary_size == 3
    expected = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 0, 0]], np.float32)  # [OOV, y, x]
    check_three_ways(feature, ["x", "y", "z", ""], tf.string, expected)
    other = round_trip(CategoricalFeature, spec, feature)
    np.testing.assert_array_equal(other.transform(tf.constant(["x", "z"])).numpy(), expected[[0, 2]])


# -- multi-hot ---------------------------------------------------------------------------------


def test_split_values_strips_and_drops_empty():
    out = split_values(tf.constant([" a, b ,,c ", "", "solo", " , "]), ",")
    assert out.to_list() == [[b"a", b"b", b"c"], [], [b"solo"], []]
    assert split_values(tf.constant(["a|b c|d"]), "|").to_list() == [[b"a", b"b c", b"d"]]


def test_multi_hot_vocabulary_and_vectors():
    train = np.array(["red, round", "red,small", "round , red", "", "green"], object)
    spec = input_spec("multi_hot", min_frequency=2)
    feature = MultiHotFeature(spec).adapt(train)
    assert feature.get_state()["vocabulary"] == ["red", "round"]   # green and small seen once
    assert feature.shape == (3,) and feature.dtype == "float32"
    values = ["round, red", "small", "", "red,red, zebra", " RED "]
    expected = np.array([[0, 1, 1], [1, 0, 0], [0, 0, 0], [1, 1, 0], [1, 0, 0]], np.float32)  # case kept
    check_three_ways(feature, values, tf.string, expected)
    other = round_trip(MultiHotFeature, spec, feature)
    np.testing.assert_array_equal(other.transform(tf.constant(values)).numpy(), expected)

    top = MultiHotFeature(input_spec("multi_hot", separator=";", max_tokens=1)).adapt(["a;b", "b", "b;c"])
    assert top.get_state()["vocabulary"] == ["b"]
    with pytest.raises(ValueError, match="col"):
        MultiHotFeature(input_spec("multi_hot")).adapt(["", " , "])
    with pytest.raises(SpecError, match="separator"):
        input_spec("multi_hot", separator="")


# -- boolean ---------------------------------------------------------------------------------------


def test_boolean_values_missing_and_indicator():
    feature = BooleanFeature(input_spec("boolean"))
    assert feature.shape == (2,)
    values = ["true", "No", " YES ", "0", "1", "f", "T", "", "maybe"]
    expected = np.array([[1, 0], [0, 0], [1, 0], [0, 0], [1, 0], [0, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    check_three_ways(feature, values, tf.string, expected)
    plain = BooleanFeature(input_spec("boolean", missing_indicator=False, fill_value=0.5))
    assert plain.shape == (1,)
    check_three_ways(plain, ["yes", "", "n"], tf.string, np.array([[1.0], [0.5], [0.0]], np.float32))


def test_boolean_resolve_reads_booleans_numbers_and_names_bad_rows():
    feature = BooleanFeature(input_spec("boolean"))
    column = pd.Series([True, False, None, 1.0, 0], dtype=object)
    resolved = feature.resolve(column, root=".")
    np.testing.assert_array_equal(feature.transform(tf.constant(resolved)).numpy(),
                                  [[1, 0], [0, 0], [0, 1], [1, 0], [0, 0]])
    with pytest.raises(mmkeras.DataError, match=r"Row 2 of t\.csv, column 'col': 'perhaps' is not a boolean"):
        feature.resolve(pd.Series(["yes", "no", "perhaps"]), root=".", table="t.csv")


# -- end to end ------------------------------------------------------------------------------------


def tabular_table(n=64, seed=0):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    df = pd.DataFrame({
        "amount": np.where(rng.random(n) < 0.2, np.nan, np.exp(rng.normal(2 + label, 1.0))),
        "shop": rng.choice(["a", "b", "c", "d"], n),
        "zone": rng.integers(1, 4, n).astype(float),
        "tags": [", ".join(rng.choice(["x", "y", "z", "w"], rng.integers(0, 3), replace=False)) for _ in range(n)],
        "member": np.where(rng.random(n) < 0.2, None, np.where(label == 1, "yes", "no")).astype(object),
        "label": np.where(label == 1, "pos", "neg"),
    })
    df.loc[0, "zone"] = np.nan
    return df


TABULAR_SPEC = {
    "spec_version": 1, "name": "tab",
    "inputs": {
        "amount": {"type": "numeric", "column": "amount", "missing_indicator": True, "normalization": "log1p",
                   "impute": "median", "clip": [0, 1000]},
        "shop": {"type": "categorical", "column": "shop", "encoding": "one_hot"},
        "zone": {"type": "categorical", "column": "zone", "min_frequency": 2},
        "tags": {"type": "multi_hot", "column": "tags", "encoder": {"type": "dense", "units": 4}},
        "member": {"type": "boolean", "column": "member"},
    },
    "fusion": {"hidden_units": [8]},
    "outputs": {"label": {"type": "classification", "column": "label"}},
    "training": {"epochs": 1, "batch_size": 16},
}


def test_tabular_spec_trains_with_xla_saves_and_serves(tmp_path):
    df = tabular_table()
    spec = mmkeras.load_spec(TABULAR_SPEC)
    pre = mmkeras.Preprocessor(spec).adapt(df)
    shapes = {n: (f.shape, f.dtype) for n, f in pre.features.items()}
    assert shapes == {"amount": ((2,), "float32"), "shop": ((5,), "float32"), "zone": ((1,), "int64"),
                      "tags": ((5,), "float32"), "member": ((2,), "float32")}
    assert pre.features["zone"].get_state()["vocabulary"][0] in ("1", "2", "3")  # not "1.0"
    model = mmkeras.build_model(spec, pre)
    assert model.get_layer("shop_encoder").output.shape == (None, 5)  # one-hot passed on as is
    mmkeras.training.fit(model, spec, mmkeras.make_dataset(spec, df, pre, training=True), verbose=False)
    assert model.jit_compile is True

    pre.save(str(tmp_path / "pre"))
    loaded = mmkeras.Preprocessor.load(str(tmp_path / "pre"))
    a = next(iter(mmkeras.make_dataset(spec, df, pre, batch_size=64, with_targets=False)))
    b = next(iter(mmkeras.make_dataset(spec, df, loaded, batch_size=64, with_targets=False)))
    for name in a:
        np.testing.assert_array_equal(a[name].numpy(), b[name].numpy(), err_msg=name)

    expected = model.predict(mmkeras.make_dataset(spec, df, pre, with_targets=False), verbose=0)["label"]
    mmkeras.export_saved_model(model, loaded, str(tmp_path / "export"))
    serve = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    raw = loaded.raw_columns(df)
    served = serve(**{n: tf.constant(v) for n, v in raw.items()})
    np.testing.assert_allclose(served["label_probabilities"].numpy(), expected, atol=1e-5)
    model.save(str(tmp_path / "model.keras"))
    again = keras.saving.load_model(str(tmp_path / "model.keras"), compile=False)
    np.testing.assert_allclose(again.predict(mmkeras.make_dataset(spec, df, pre, with_targets=False),
                                             verbose=0)["label"], expected, atol=1e-6)


def test_example_spec_loads():
    spec = mmkeras.load_spec(os.path.join(REPO_SPECS, "tabular_example.yaml"))
    assert {i.type for i in spec.inputs.values()} == {"multi_hot", "numeric", "categorical"}
    assert spec.inputs["unicode_version"].clip == (0.0, 20.0)


@pytest.mark.skipif(not os.path.isfile(OPENMOJI), reason="../shared/data is absent")
def test_example_spec_adapts_on_openmoji():
    spec = mmkeras.load_spec(os.path.join(REPO_SPECS, "tabular_example.yaml"))
    train = mmkeras.load_splits(spec)["train"]
    pre = mmkeras.Preprocessor(spec).adapt(train)
    keywords = pre.features["keywords"].get_state()["vocabulary"]
    assert "face" in keywords and all(k == k.strip() and k for k in keywords)
    version = pre.features["unicode_version"]
    assert math.isclose(version.fill, float(np.median(np.clip(train["unicode_version"], 0, 20))), rel_tol=1e-6)
    log = np.log1p(np.clip(train["unicode_version"].to_numpy(np.float64), 0, 20))
    assert math.isclose(version.mean, log.mean(), rel_tol=1e-6)
    assert math.isclose(version.variance, log.var(), rel_tol=1e-5)
