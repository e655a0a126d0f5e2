"""Output types (multilabel, normalised regression, class weights, multi-task) and evaluation metrics."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras
from helpers import tiny_spec_dict
from mmkeras.data.targets import MultiLabelTarget, RegressionTarget, balanced_weights, make_target
from mmkeras.tasks.outputs.endpoints import serving_outputs
from mmkeras.tasks.outputs.scoring import classification_metrics, multilabel_metrics, regression_metrics, roc_auc
from mmkeras.specs import SpecError


# -- metrics on tiny arrays, checked by hand ------------------------------------------------

def test_classification_metrics_one_vs_rest_auc_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([[.6, .3, .1], [.3, .4, .3], [.2, .5, .3], [.4, .4, .2], [.1, .2, .7], [.5, .1, .4]])
    m = classification_metrics(y, p, ["a", "b", "c"])
    # Class a: scores of positives .6, .3 against negatives .2, .4, .1, .5: 4 + 2 of 8 pairs ordered.
    # Class b: positives .5, .4 against .3, .4, .2, .1: 4 + 3 + one tie (1/2) -> 7.5 / 8.
    # Class c: positives .7, .4 against .1, .3, .3, .2: all 8 pairs ordered.
    assert m["per_class"]["a"]["roc_auc"] == pytest.approx(0.75)
    assert m["per_class"]["b"]["roc_auc"] == pytest.approx(0.9375)
    assert m["per_class"]["c"]["roc_auc"] == pytest.approx(1.0)
    assert m["roc_auc"] == pytest.approx((0.75 + 0.9375 + 1.0) / 3)
    # argmax (first on ties): 0, 1, 1, 0, 2, 0.
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["confusion_matrix"] == [[1, 1, 0], [1, 1, 0], [1, 0, 1]]
    assert m["per_class"]["a"]["precision"] == pytest.approx(1 / 3)
    assert m["per_class"]["a"]["f1"] == pytest.approx(0.4)
    assert m["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.4 + 0.5 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx((0.4 + 0.5 + 2 / 3) / 3)  # equal supports


def test_auc_binary_ties_and_classes_absent():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1, 1], [0.5, 0.5, 0.9]) == pytest.approx(0.75)  # one tie counts half
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))
    binary = classification_metrics(np.array([0, 1, 1]), np.array([[.5, .5], [.5, .5], [.1, .9]]), ["n", "y"])
    assert binary["roc_auc"] == pytest.approx(0.75)
    # Only class 0 and 2 in y_true: class 1 gets no AUC and does not count in the macro means.
    m = classification_metrics(np.array([0, 2, 2]), np.array([[.8, .1, .1], [.2, .1, .7], [.5, .3, .2]]),
                               ["a", "b", "c"])
    assert "roc_auc" not in m["per_class"]["b"]
    assert m["roc_auc"] == pytest.approx(1.0)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_multilabel_metrics_by_hand():
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    p = np.array([[.8, .4, .3], [.2, .6, .1], [.6, .3, .2], [.1, .2, .9]])
    m = multilabel_metrics(y, p, ["x", "y", "z"], thresholds=[0.5, 0.5, 0.25])
    # Predicted: [1,0,1], [0,1,0], [1,0,0], [0,0,1]; tp 2,1,1; predicted 2,1,2; actual 2,2,1.
    assert m["per_label"]["x"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2, "threshold": 0.5,
                                   "roc_auc": 1.0}
    assert m["per_label"]["y"]["recall"] == pytest.approx(0.5)
    assert m["per_label"]["z"]["precision"] == pytest.approx(0.5)
    assert m["per_label"]["z"]["threshold"] == 0.25
    assert m["micro_f1"] == pytest.approx(0.8)  # tp 4, predicted 5, actual 5
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert m["subset_accuracy"] == pytest.approx(0.5)
    assert m["hamming_loss"] == pytest.approx(2 / 12)
    # One threshold for all: .3 >= .5 is false, so z of row 0 is missed.
    assert multilabel_metrics(y, p, ["x", "y", "z"])["per_label"]["z"]["recall"] == 0.0


def test_regression_metrics_by_hand():
    m = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 4.0])
    assert m["mae"] == pytest.approx(1.5 / 4)
    assert m["rmse"] == pytest.approx(np.sqrt(1.25 / 4))
    assert m["r2"] == pytest.approx(1 - 1.25 / 5.0)


# -- targets ------------------------------------------------------------------------------

def _output(**kw):
    spec = mmkeras.load_spec({"spec_version": 1, "name": "t", "inputs": {"x": {"type": "numeric", "column": "x"}},
                              "outputs": {"o": {"column": "o", **kw}}})
    return spec.outputs["o"]


def test_multilabel_target_and_thresholds():
    target = MultiLabelTarget(_output(type="multilabel", separator=";", threshold={"b": 0.3})).adapt(
        ["a ; b", "", "b;;", None, "c"])
    assert target.classes == ["a", "b", "c"]
    assert target.thresholds == [0.5, 0.3, 0.5]
    np.testing.assert_array_equal(target.encode([" c;a ", ""]), [[1, 0, 1], [0, 0, 0]])
    # 5 rows: a 1 positive, b 2, c 1 -> positives weigh 5 / (2 * count), negatives 5 / (2 * (5 - count)).
    np.testing.assert_allclose(target.pos_weights, [2.5, 1.25, 2.5])
    np.testing.assert_allclose(target.neg_weights, [5 / 8, 5 / 6, 5 / 8])
    np.testing.assert_allclose(target.sample_weights([[1, 0, 0]]), [[2.5, 5 / 6, 5 / 8]])
    with pytest.raises(mmkeras.DataError, match=r"Row 1 of t, column 'o': label 'd' was not seen"):
        target.encode(["a", "d"], "t")
    other = make_target(target.spec)
    other.set_state(json.loads(json.dumps(target.get_state())))
    assert other.classes == target.classes and other.pos_weights == target.pos_weights
    with pytest.raises(SpecError, match=r"outputs.o.threshold.zz: 'zz' is not a label in column 'o'"):
        MultiLabelTarget(_output(type="multilabel", threshold={"zz": 0.2})).adapt(["a,b"])


def test_serving_multilabel_labels_and_regression_units():
    spec = mmkeras.load_spec({
        "spec_version": 1, "name": "t", "inputs": {"x": {"type": "numeric", "column": "x"}},
        "outputs": {"tags": {"type": "multilabel", "column": "tags", "separator": "|", "threshold": {"c": 0.2}},
                    "price": {"type": "regression", "column": "price"}}})
    df = pd.DataFrame({"x": [1.0, 2.0], "tags": ["a|b", "c"], "price": [10.0, 30.0]})
    pre = mmkeras.Preprocessor(spec).adapt(df)
    out = serving_outputs(spec, pre, {"tags": tf.constant([[.9, .5, .1], [.1, .49, .2], [.2, .1, .0]]),
                                      "price": tf.constant([[0.0], [1.0], [-2.0]])})
    assert [v.decode() for v in out["tags_labels"].numpy()] == ["a|b", "c", ""]
    assert out["tags_probabilities"].shape == (3, 3)
    np.testing.assert_allclose(out["price"].numpy(), [20.0, 30.0, 0.0], rtol=1e-6)


def test_regression_target_normalised_and_decoded():
    target = RegressionTarget(_output(type="regression")).adapt(["1", 3.0, 5, 7])
    assert target.mean == pytest.approx(4.0) and target.std == pytest.approx(np.sqrt(5.0))
    encoded = target.encode([4.0, 7.0])
    np.testing.assert_allclose(encoded, [0.0, 3 / np.sqrt(5.0)], rtol=1e-6)
    np.testing.assert_allclose(target.decode_predictions(encoded), [4.0, 7.0], rtol=1e-6)
    np.testing.assert_allclose(target.decode_predictions(tf.constant(encoded)).numpy(), [4.0, 7.0], rtol=1e-6)
    assert RegressionTarget(target.spec).adapt([2.0, 2.0]).std == 1.0  # constant column: no division by 0


def test_balanced_class_weights():
    assert balanced_weights([3, 1]) == pytest.approx([4 / 6, 2.0])
    target = make_target(_output(type="classification", class_weight="balanced")).adapt(["a", "a", "a", "b", "c", "c"])
    assert target.class_weights == pytest.approx([6 / 9, 2.0, 1.0])
    np.testing.assert_allclose(target.sample_weights(target.encode(["c", "a", "b"])), [1.0, 6 / 9, 2.0])


@pytest.mark.parametrize("change, message", [
    ({"type": "multilabel", "threshold": 1.5}, "outputs.o.threshold: 1.5 is not a number between 0 and 1"),
    ({"type": "multilabel", "threshold": {"a": "high"}}, "outputs.o.threshold.a: 'high' is not a number"),
    ({"type": "multilabel", "threshold": "high"}, "outputs.o.threshold: 'high' is not a float or Mapping"),
    ({"type": "binary", "threshold": 0.3}, "outputs.o.threshold: is only allowed for type: multilabel"),
    ({"type": "classification", "separator": ";"}, "outputs.o.separator: is only allowed for type: multilabel"),
    ({"type": "multilabel", "separator": " "}, "outputs.o.separator: ' ' is not a non-empty"),
    ({"type": "multi_label"}, "outputs.o.type: 'multi_label' is not one of binary, classification, multilabel, "
                              "regression"),
    ({"type": "regression", "class_weight": "balanced"}, "outputs.o.class_weight: 'balanced' is only allowed"),
    ({"type": "binary", "class_weight": "auto"}, "outputs.o.class_weight: 'auto' is not one of none, balanced"),
    ({"type": "binary", "loss_weight": -0.5}, "outputs.o.loss_weight: -0.5 is below the minimum 0"),
])
def test_output_spec_errors(change, message):
    with pytest.raises(SpecError) as info:
        _output(**change)
    assert message in str(info.value)


# -- pipeline and the whole run -------------------------------------------------------------

def _task_table(manifest, path):
    """The demo table plus an imbalanced binary, a multilabel and a regression column."""
    df = pd.read_csv(manifest)
    parts = df["label"].str.split("-")
    df["square_high"] = np.where(df["label"].str.startswith("square-high"), "yes", "no")
    df["tags"] = ["; ".join(p for p in row if p in ("square", "high", "vehicle")) for row in parts]
    df["value"] = 100.0 + 20.0 * df["reading"].fillna(0.0)
    df.to_csv(path, index=False)
    return df


@pytest.mark.parametrize("cache", ["none", "memory", "disk"])
def test_balanced_weights_pass_through_the_dataset(demo_manifest, tmp_path, cache):
    df = _task_table(demo_manifest, tmp_path / "table.csv")
    spec_dict = tiny_spec_dict(str(tmp_path / "table.csv"), cache=cache)
    spec_dict["inputs"] = {"reading": spec_dict["inputs"]["reading"]}
    spec_dict["outputs"] = {
        "sq": {"type": "binary", "column": "square_high", "positive": "yes", "class_weight": "balanced"},
        "tags": {"type": "multilabel", "column": "tags", "separator": ";", "class_weight": "balanced"},
        "value": {"type": "regression", "column": "value"}}
    spec = mmkeras.load_spec(spec_dict)
    train = mmkeras.load_splits(spec)["train"]
    pre = mmkeras.Preprocessor(spec).adapt(train)
    n_pos = int((train["square_high"] == "yes").sum())
    expected = np.where(train["square_high"] == "yes", len(train) / (2 * n_pos), len(train) / (2 * (len(train) - n_pos)))
    assert pre.targets["sq"].class_weights == pytest.approx([expected.min(), expected.max()])
    ds = mmkeras.make_dataset(spec, train, pre, shuffle=False, batch_size=16)
    inputs, targets, weights = [np.concatenate(parts) if not isinstance(parts[0], dict) else
                                {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
                                for parts in zip(*[tuple(tf.nest.map_structure(np.asarray, e)) for e in ds])]
    np.testing.assert_allclose(weights["sq"], expected, rtol=1e-6)
    np.testing.assert_allclose(weights["tags"], pre.targets["tags"].sample_weights(targets["tags"]), rtol=1e-6)
    assert weights["tags"].shape == (len(train), 3)
    np.testing.assert_array_equal(weights["value"], 1.0)
    # Without class_weight: balanced there is no third element.
    plain = mmkeras.load_spec({**spec_dict, "outputs": {"value": spec_dict["outputs"]["value"]}})
    pre_plain = mmkeras.Preprocessor(plain).adapt(train)
    assert len(next(iter(mmkeras.make_dataset(plain, train, pre_plain, shuffle=False)))) == 2


def test_multi_task_run_trains_exports_and_serves_every_output(demo_manifest, tmp_path):
    from mmkeras.demo.run import raw_batch
    from mmkeras.runs import evaluate_run, load_run, predict_table, train_run

    table = tmp_path / "table.csv"
    df = _task_table(demo_manifest, table)
    root = os.path.dirname(demo_manifest)
    spec_dict = tiny_spec_dict(str(table))
    spec_dict["data"]["root"] = root
    # Tabular inputs and no validation split keep the test fast; the outputs are what it is about.
    spec_dict["inputs"] = {k: spec_dict["inputs"][k] for k in ("reading", "colour")}
    spec_dict["data"]["split"]["validation"] = None
    spec_dict["outputs"] = {
        "label": {"type": "classification", "column": "label", "class_weight": "balanced"},
        "tags": {"type": "multilabel", "column": "tags", "separator": ";", "threshold": {"vehicle": 0.4},
                 "class_weight": "balanced", "loss_weight": 2.0},
        "value": {"type": "regression", "column": "value", "loss_weight": 0.5}}
    run_dir = str(tmp_path / "run")
    metrics = train_run(spec_dict, run_dir, verbose=False)

    test = metrics["test"]
    assert {"accuracy", "macro_f1", "weighted_f1", "roc_auc", "per_class", "confusion_matrix"} <= set(test["label"])
    assert {"micro_f1", "macro_f1", "subset_accuracy", "hamming_loss", "per_label"} <= set(test["tags"])
    assert test["tags"]["per_label"]["vehicle"]["threshold"] == 0.4
    assert {"mae", "rmse", "r2"} <= set(test["value"])
    with open(os.path.join(run_dir, "metrics.json")) as f:
        assert json.load(f)["test"]["value"]["rmse"] == pytest.approx(test["value"]["rmse"])

    spec, pre, model = load_run(run_dir)  # the custom multilabel loss deserialises
    assert model.get_layer("tags").units == 3 and model.get_layer("value").units == 1
    assert pre.targets["value"].mean == pytest.approx(df[df.split == "train"]["value"].mean(), rel=1e-6)
    test_df = df[df.split == "test"].reset_index(drop=True)
    ds = mmkeras.make_dataset(spec, test_df, pre, with_targets=False)
    predicted = model.predict(ds, verbose=0)

    serve = tf.saved_model.load(os.path.join(run_dir, "saved_model")).signatures["serving_default"]
    batch = raw_batch(spec, test_df, root)
    served = {k: v.numpy() for k, v in serve(**{k: tf.constant(v) for k, v in batch.items()}).items()}
    assert set(served) >= {"label_probabilities", "label_label", "tags_probabilities", "tags_labels", "value"}
    values = pre.targets["value"].decode_predictions(predicted["value"].reshape(-1))
    np.testing.assert_allclose(served["value"], values, atol=1e-4, rtol=0)
    assert abs(values.mean() - 100.0) < 60  # in the column's units, not standardised ones
    np.testing.assert_allclose(served["tags_probabilities"], predicted["tags"], atol=1e-5)
    thresholds = np.array(pre.targets["tags"].thresholds)
    for probs, joined in zip(served["tags_probabilities"], served["tags_labels"]):
        chosen = [c for c, p, t in zip(pre.targets["tags"].classes, probs, thresholds) if p >= t]
        assert joined.decode() == ";".join(chosen)

    evaluated, _ = evaluate_run(run_dir)
    assert evaluated["test"]["value"]["rmse"] == pytest.approx(test["value"]["rmse"], rel=1e-5)
    assert evaluated["test"]["tags"]["micro_f1"] == pytest.approx(test["tags"]["micro_f1"])
    predictions = predict_table(os.path.join(run_dir, "saved_model"), str(table), root=root)
    assert {"label_label", "tags_labels", "tags_prob_vehicle", "value"} <= set(predictions.columns)
    np.testing.assert_allclose(predictions["value"].to_numpy()[df.split == "test"], served["value"], atol=1e-4)
