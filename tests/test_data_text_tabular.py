"""Text, numeric and categorical features; reading and splitting tables; targets."""

import importlib.util
import math

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mmkeras.errors import DataError
from mmkeras.data.sources.table import as_strings, check_columns, read_table, split_table
from mmkeras.data.tabular import CategoricalFeature, NumericFeature
from mmkeras.data.targets import BinaryTarget, ClassTarget, RegressionTarget, make_target
from mmkeras.data.text import TextFeature
from mmkeras.specs import load_spec
from mmkeras.testing import three_ways


def make_spec(inputs=None, outputs=None, split=None, seed=0):
    raw = {
        "spec_version": 1, "name": "t",
        "inputs": inputs or {"x": {"type": "numeric", "column": "x"}},
        "outputs": outputs or {"y": {"type": "classification", "column": "label"}},
        "training": {"seed": seed},
    }
    if split is not None:
        raw["data"] = {"split": split}
    return load_spec(raw)


def input_spec(kind, **options):
    return make_spec(inputs={"f": {"type": kind, "column": "col", **options}}).inputs["f"]


def output_spec(kind, **options):
    return make_spec(outputs={"y": {"type": kind, "column": "label", **options}}).outputs["y"]


# -- text ---------------------------------------------------------------------------

TEXTS = ["The cat sat on the mat.", "A dog, a cat!", "the DOG barked", "cat cat cat", ""]


def test_text_feature_adapt_and_transform():
    feature = TextFeature(input_spec("text", max_tokens=100, sequence_length=4)).adapt(TEXTS)
    vocab = feature.layer.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"]
    assert vocab[2:4] == ["cat", "the"]  # most frequent first; lower-cased, punctuation stripped
    assert feature.vocabulary_size == len(vocab)
    assert feature.shape == (4,) and feature.dtype == "int64"
    ids = {w: i for i, w in enumerate(vocab)}
    queries = ["The CAT, the dog.", "zebra cat", "", "cat cat cat cat cat cat"]
    expected = np.array([
        [ids["the"], ids["cat"], ids["the"], ids["dog"]],
        [1, ids["cat"], 0, 0],            # unseen word -> OOV index 1
        [0, 0, 0, 0],                     # empty text -> all padding
        [ids["cat"]] * 4,                 # truncated to sequence_length
    ])
    for out in three_ways(feature.transform, queries, per_batch=True, dtype=tf.string, batch_size=3):
        assert out.dtype == np.int64 and out.shape == (4, 4)
        np.testing.assert_array_equal(out, expected)


def test_text_feature_max_tokens_and_state_round_trip():
    spec = input_spec("text", max_tokens=5, sequence_length=6)
    feature = TextFeature(spec).adapt(TEXTS)
    assert feature.vocabulary_size == 5
    state = feature.get_state()
    assert state["vocabulary"] == feature.layer.get_vocabulary()[2:]
    other = TextFeature(spec)
    other.set_state(state)
    queries = TEXTS + ["never seen words", "mat barked dog"]
    np.testing.assert_array_equal(other.transform(tf.constant(queries)).numpy(),
                                  feature.transform(tf.constant(queries)).numpy())
    assert other.vocabulary_size == feature.vocabulary_size


def test_text_feature_empty_vocabulary_is_an_error():
    with pytest.raises(ValueError, match="col"):
        TextFeature(input_spec("text")).adapt(["", "", "..."])


# -- numeric --------------------------------------------------------------------------


def test_numeric_feature_standardises_and_imputes_mean():
    feature = NumericFeature(input_spec("numeric")).adapt([1.0, 2.0, 3.0, np.nan])
    assert feature.mean == pytest.approx(2.0)
    assert feature.variance == pytest.approx(2.0 / 3.0)
    assert feature.shape == (1,) and feature.dtype == "float32"
    std = math.sqrt(2.0 / 3.0)
    values = [np.nan, 2.0, 3.0, 0.5, np.inf, -np.inf]
    expected = np.array([[0.0], [0.0], [1 / std], [-1.5 / std], [0.0], [0.0]], np.float32)
    for out in three_ways(feature.transform, values, per_batch=True, dtype=tf.float32, batch_size=3):
        assert out.shape == (6, 1) and out.dtype == np.float32
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_numeric_feature_state_round_trip():
    spec = input_spec("numeric")
    feature = NumericFeature(spec).adapt(np.random.default_rng(0).normal(5.0, 3.0, size=50))
    other = NumericFeature(spec)
    other.set_state(feature.get_state())
    values = tf.constant([np.nan, -1.0, 0.0, 5.0, 100.0], tf.float32)
    np.testing.assert_array_equal(other.transform(values).numpy(), feature.transform(values).numpy())


def test_numeric_feature_without_values_is_an_error():
    with pytest.raises(ValueError, match="col"):
        NumericFeature(input_spec("numeric")).adapt([np.nan, np.nan])


# -- categorical ---------------------------------------------------------------------------


def test_categorical_feature_vocabulary_and_oov():
    feature = CategoricalFeature(input_spec("categorical")).adapt(
        ["b", "a", "a", "", "c", "a", "b", "d", "c", "b"])
    assert feature.get_state()["vocabulary"] == ["a", "b", "c", "d"]  # by count, ties by value
    assert feature.vocabulary_size == 5
    assert feature.shape == (1,) and feature.dtype == "int64"
    values = ["a", "b", "c", "d", "zebra", ""]
    for out in three_ways(feature.transform, values, per_batch=True, dtype=tf.string, batch_size=3):
        assert out.shape == (6, 1) and out.dtype == np.int64
        np.testing.assert_array_equal(out[:, 0], [1, 2, 3, 4, 0, 0])  # unseen and missing -> 0


def test_categorical_feature_max_tokens_and_state_round_trip():
    spec = input_spec("categorical", max_tokens=2)
    feature = CategoricalFeature(spec).adapt(["x", "y", "y", "z", "y", "x"])
    assert feature.get_state()["vocabulary"] == ["y", "x"]
    other = CategoricalFeature(spec)
    other.set_state(feature.get_state())
    values = tf.constant(["x", "y", "z", "w", ""])
    np.testing.assert_array_equal(other.transform(values).numpy(), feature.transform(values).numpy())
    np.testing.assert_array_equal(feature.transform(values).numpy()[:, 0], [2, 1, 0, 0, 0])


def test_categorical_feature_without_values_is_an_error():
    with pytest.raises(ValueError, match="col"):
        CategoricalFeature(input_spec("categorical")).adapt(["", ""])


# -- tables: reading ---------------------------------------------------------------------------

FRAME = pd.DataFrame({"x": [1.5, 2.0, np.nan], "label": ["a", "b", "a"], "text": ["hi there", "", "ok"]})


@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl", "parquet"])
def test_read_table_formats(tmp_path, ext):
    path = tmp_path / f"table.{ext}"
    if ext == "csv":
        FRAME.to_csv(path, index=False)
    elif ext == "tsv":
        FRAME.to_csv(path, sep="\t", index=False)
    elif ext == "jsonl":
        FRAME.to_json(path, orient="records", lines=True)
    else:
        if importlib.util.find_spec("pyarrow") is None:
            pytest.skip("pyarrow is not installed")
        FRAME.to_parquet(path, index=False)
    df = read_table(str(path))
    assert list(df.columns) == ["x", "label", "text"]
    np.testing.assert_allclose(df["x"].to_numpy(np.float64), FRAME["x"].to_numpy(), equal_nan=True)
    assert list(df["label"]) == ["a", "b", "a"]
    assert list(as_strings(df["text"])) == ["hi there", "", "ok"]


def test_read_table_other_extension_with_options(tmp_path):
    path = tmp_path / "table.txt"
    FRAME.to_csv(path, sep=";", index=False)
    df = read_table(str(path), {"sep": ";"})
    assert list(df.columns) == ["x", "label", "text"] and len(df) == 3


def test_read_table_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_table(str(tmp_path / "nope.csv"))
    path = tmp_path / "table.csv"
    FRAME.to_csv(path, index=False)
    with pytest.raises(DataError, match="table.csv"):
        read_table(str(path), {"no_such_option": 1})


def test_as_strings():
    out = as_strings(pd.Series([1.0, 2.5, np.nan, None, "x", 3], dtype=object))
    assert list(out) == ["1", "2.5", "", "", "x", "3"]
    assert list(as_strings(pd.Series([0.0, 10.0, np.nan]))) == ["0", "10", ""]


def test_check_columns_names_missing_columns():
    with pytest.raises(DataError, match=r"my\.csv.*'nope'.*'gone'"):
        check_columns(FRAME, ["x", "nope", "gone"], "my.csv")


# -- tables: splitting --------------------------------------------------------------------------


def labelled_table(per_class=(8, 12, 16), test_rows=2):
    rows = []
    for k, count in enumerate(per_class):
        rows += [{"label": f"c{k}", "split": "train"} for _ in range(count)]
        rows += [{"label": f"c{k}", "split": "test"} for _ in range(test_rows)]
    df = pd.DataFrame(rows)
    df["id"] = np.arange(len(df))
    df["x"] = np.arange(len(df), dtype=float)
    return df


def test_split_column_with_validation_fraction():
    spec = make_spec(split={"column": "split", "train": "train", "validation": 0.25, "test": "test"})
    df = labelled_table()
    out = split_table(spec, df)
    train, val, test = out["train"], out["validation"], out["test"]
    assert list(test["id"]) == list(df[df.split == "test"]["id"])
    assert sorted(list(train["id"]) + list(val["id"])) == list(df[df.split == "train"]["id"])
    assert not set(train["id"]) & set(val["id"])
    # Stratified: every class in both, a quarter of each class carved out.
    assert val["label"].value_counts().to_dict() == {"c0": 2, "c1": 3, "c2": 4}
    assert set(train["label"]) == {"c0", "c1", "c2"}
    assert list(train.index) == list(range(len(train)))  # index reset
    # Seeded: the same split every time; another seed gives another one.
    again = split_table(spec, df)
    assert list(again["validation"]["id"]) == list(val["id"])
    other = split_table(make_spec(split={"column": "split", "validation": 0.25, "test": "test"}, seed=7), df)
    assert list(other["validation"]["id"]) != list(val["id"])


def test_split_column_values_and_missing_column():
    spec = make_spec(split={"column": "split", "train": "train", "test": "test"})
    out = split_table(spec, labelled_table())
    assert out["validation"] is None and len(out["test"]) == 6
    with pytest.raises(DataError, match="'split'"):
        split_table(spec, labelled_table().drop(columns=["split"]))
    spec = make_spec(split={"column": "split", "train": "train", "test": "holdout"})
    with pytest.raises(DataError, match="holdout"):
        split_table(spec, labelled_table())


@pytest.mark.parametrize("fractions", [
    {"train": 0.6, "validation": 0.2, "test": 0.2},
    {"validation": 0.15, "test": 0.15},
    {"validation": 0.1},
])
def test_fraction_split_covers_the_table(fractions):
    spec = make_spec(split=fractions)
    df = labelled_table(per_class=(10, 17, 23), test_rows=0)
    out = split_table(spec, df)
    parts = [out[k] for k in ("train", "validation", "test") if out[k] is not None]
    ids = np.concatenate([p["id"].to_numpy() for p in parts])
    assert sorted(ids) == list(df["id"]) and len(ids) == len(df)
    assert set(out["validation"]["label"]) == {"c0", "c1", "c2"}
    for name, part in out.items():
        if part is not None:
            share = getattr(spec.data.split, name)
            assert abs(len(part) - share * len(df)) <= 3
    again = split_table(spec, df)
    for name in out:
        if out[name] is not None:
            assert list(again[name]["id"]) == list(out[name]["id"])


def test_fraction_split_without_class_output():
    spec = make_spec(outputs={"y": {"type": "regression", "column": "x"}}, split={"validation": 0.25})
    df = labelled_table(per_class=(20,), test_rows=0)
    out = split_table(spec, df)
    assert len(out["train"]) + len(out["validation"]) == 20 and len(out["validation"]) == 5


# -- targets ---------------------------------------------------------------------------------------


def test_class_target_numeric_labels_sorted_numerically():
    target = ClassTarget(output_spec("classification")).adapt(pd.Series([3, 10, 0, 9, 1, 2, 4, 5, 6, 7, 8, 10]))
    assert target.classes == [str(i) for i in range(11)]
    assert target.num_classes == 11
    encoded = target.encode(pd.Series([10, 9, 0]))
    assert encoded.dtype == np.int32
    np.testing.assert_array_equal(encoded, [10, 9, 0])
    # Read from a CSV with a missing label, the column is float: 2.0 is still "2".
    floats = ClassTarget(output_spec("classification")).adapt(pd.Series([2.0, np.nan, 10.0, 1.0]))
    assert floats.classes == ["1", "2", "10"]
    np.testing.assert_array_equal(floats.encode(pd.Series([10.0, 1.0])), [2, 0])


def test_class_target_strings_and_mixed():
    target = ClassTarget(output_spec("classification")).adapt(["b", "a", "2", "c", "a", "10"])
    assert target.classes == ["2", "10", "a", "b", "c"]
    with pytest.raises(DataError, match="fewer than two"):
        ClassTarget(output_spec("classification")).adapt(["a", "a", ""])


def test_class_target_unknown_class_names_row_and_column():
    target = ClassTarget(output_spec("classification")).adapt(["a", "b", "a"])
    with pytest.raises(DataError) as info:
        target.encode(pd.Series(["a", "b", "zebra", "b", "zebra"]), "validation")
    message = str(info.value)
    assert "Row 2" in message and "validation" in message and "'label'" in message and "zebra" in message
    assert "2 such row(s)" in message
    with pytest.raises(DataError, match="Row 1"):
        target.encode(pd.Series(["a", np.nan]), "test")  # a missing label is unknown too


def test_binary_target_ordering():
    spec = output_spec("binary")
    target = BinaryTarget(spec).adapt(["yes", "no", "no"])
    assert target.classes == ["no", "yes"]
    encoded = target.encode(["yes", "no"])
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, [1.0, 0.0])

    positive_first = BinaryTarget(output_spec("binary", positive="ham")).adapt(["spam", "ham", "spam"])
    assert positive_first.classes == ["spam", "ham"]  # [negative, positive]
    np.testing.assert_array_equal(positive_first.encode(["ham", "spam"]), [1.0, 0.0])

    numeric = BinaryTarget(spec).adapt(pd.Series([1, 0, 1]))
    assert numeric.classes == ["0", "1"]

    only_positive = BinaryTarget(output_spec("binary", positive="y")).adapt(["y", "y"])
    assert only_positive.classes == ["y"]

    with pytest.raises(DataError, match="3 values"):
        BinaryTarget(spec).adapt(["a", "b", "c"])
    with pytest.raises(DataError, match="maybe"):
        BinaryTarget(output_spec("binary", positive="maybe")).adapt(["a", "b"])


def test_class_target_state_round_trip():
    spec = output_spec("classification")
    target = ClassTarget(spec).adapt(["10", "9", "x"])
    other = make_target(spec)
    other.set_state(target.get_state())
    assert other.classes == target.classes == ["9", "10", "x"]
    np.testing.assert_array_equal(other.encode(["x", "9"]), target.encode(["x", "9"]))


def test_regression_target():
    target = make_target(output_spec("regression"))
    assert isinstance(target, RegressionTarget)
    target.adapt([1.0, 3.0])  # mean 2, std 1: targets are standardised on train statistics
    np.testing.assert_allclose(target.encode(["1.5", 2, 3.0]), np.float32([-0.5, 0.0, 1.0]))
    np.testing.assert_allclose(target.values(["1.5", 2, 3.0]), np.float32([1.5, 2.0, 3.0]))
    np.testing.assert_allclose(target.decode_predictions(np.float32([[-0.5], [1.0]])).reshape(-1), [1.5, 3.0])
    with pytest.raises(DataError, match=r"Row 1 of train, column 'label'.*'abc'"):
        target.encode(["1", "abc", None], "train")
