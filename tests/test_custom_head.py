"""A head registered with only build / loss / metrics (the `register_head` docstring's `poisson`) end to end.

It must train on the column's raw counts, be evaluated with its own Keras
metrics, export its own `<o>` serving output and make `mmkeras predict`
write an `<o>` column, through the same run lifecycle as the built-in types.
"""

import json
import os

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras
from mmkeras import cli
from mmkeras.data.targets import NumericTarget
from mmkeras.export.archive import METADATA_FILE
from mmkeras.runs import evaluate_run, load_run, predict_table, train_run
from mmkeras.tasks.outputs import HEADS, Head, prediction_columns
from mmkeras.tasks.outputs.metrics import main_metric

POISSON = Head(
    build=lambda x, spec, target: keras.layers.Dense(1, activation="exponential", name=spec.name)(x),
    loss=lambda spec: "poisson",
    metrics=lambda spec: ["mae"],
)


def _counts_table(path, n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, n).astype(np.float32)
    df = pd.DataFrame({"x": x, "colour": rng.choice(["red", "blue"], n),
                       "visits": rng.poisson(np.exp(1.0 + x)).astype(int)})
    df.to_csv(path, index=False)
    return df


def _spec(table):
    return {"spec_version": 1, "name": "counts", "data": {"path": str(table), "split": {"validation": 0.2, "test": 0.2}},
            "inputs": {"x": {"type": "numeric", "column": "x"}, "colour": {"type": "categorical", "column": "colour"}},
            "outputs": {"visits": {"type": "poisson", "column": "visits"}},
            "training": {"epochs": 3, "batch_size": 16, "learning_rate": 0.01}}


@pytest.fixture(scope="module")
def poisson_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("poisson")
    df = _counts_table(folder / "counts.csv")
    with HEADS.temporarily("poisson", POISSON):
        metrics = train_run(_spec(folder / "counts.csv"), str(folder / "run"), verbose=False)
    return folder, df, metrics


def test_poisson_trains_on_raw_counts_and_is_scored_with_its_own_metrics(poisson_run):
    folder, df, metrics = poisson_run
    with HEADS.temporarily("poisson", POISSON):  # the run's spec names the type
        spec, pre, model = load_run(str(folder / "run"))
        again, _ = evaluate_run(str(folder / "run"))
        assert main_metric(spec) == ("visits", "mae")
        test = mmkeras.load_splits(spec)["test"]  # the head's Keras metric over the predictions, in column units
    target = pre.targets["visits"]
    assert isinstance(target, NumericTarget) and target.classes == []
    np.testing.assert_array_equal(target.encode(df["visits"][:5]), df["visits"][:5].to_numpy(np.float32))
    assert model.get_layer("visits").activation.__name__ == "exponential"

    for split in ("validation", "test"):
        assert set(metrics[split]["visits"]) == {"mae", "count"}  # its Keras metrics, no classification defaults
    assert again["test"]["visits"]["mae"] == pytest.approx(metrics["test"]["visits"]["mae"], rel=1e-5)
    predicted = model.predict(mmkeras.make_dataset(spec, test, pre, with_targets=False), verbose=0)["visits"]
    mae = float(np.abs(predicted.reshape(-1) - test["visits"].to_numpy(np.float32)).mean())
    assert metrics["test"]["visits"]["mae"] == pytest.approx(mae, rel=1e-5)
    assert metrics["test"]["visits"]["count"] == len(test)
    from_run = json.load(open(folder / "run" / "metrics.json"))
    assert from_run == metrics
    importance = pd.read_csv(folder / "run" / "importance.csv")
    assert set(importance["metric"]) == {"visits.mae"}


def test_poisson_export_serves_and_predict_writes_its_own_column(poisson_run, capsys):
    folder, df, _ = poisson_run
    with HEADS.temporarily("poisson", POISSON):
        _, pre, model = load_run(str(folder / "run"))
    export = str(folder / "run" / "saved_model")
    meta = json.load(open(os.path.join(export, "assets.extra", METADATA_FILE)))
    assert meta["outputs"]["visits"] == {"type": "poisson", "column": "visits", "classes": []}

    served = tf.saved_model.load(export).signatures["serving_default"]
    out = served(x=tf.constant(df["x"][:4].to_numpy(np.float32)), colour=tf.constant(df["colour"][:4].tolist()))
    assert set(out) == {"visits"} and out["visits"].shape == (4,)
    expected = model.predict(pre(dict(x=tf.constant(df["x"][:4].to_numpy(np.float32)),
                                      colour=tf.constant(df["colour"][:4].tolist()))), verbose=0)["visits"]
    np.testing.assert_allclose(out["visits"].numpy(), expected.reshape(-1), rtol=1e-5)
    assert (out["visits"].numpy() > 0).all()  # exponential: a rate

    rows = folder / "rows.csv"
    df[["x", "colour"]].head(10).to_csv(rows, index=False)
    table = predict_table(export, str(rows))
    assert list(table.columns) == ["visits"] and len(table) == 10
    # `mmkeras predict` in a process that never registered the head: the default columns are the same.
    assert "poisson" not in HEADS
    assert cli.main(["predict", export, "--data", str(rows), "--out", str(folder / "preds.csv")]) == 0
    written = pd.read_csv(folder / "preds.csv")
    assert list(written.columns) == ["visits"]
    np.testing.assert_allclose(written["visits"], table["visits"], rtol=1e-5)
    capsys.readouterr()


def test_default_prediction_columns_of_a_multi_unit_head():
    results = [{"scores": np.float32([[1, 2, 3]])}, {"scores": np.float32([[4, 5, 6]])}]
    columns = prediction_columns("scores", {"type": "not_registered_here"}, results)
    assert list(columns) == ["scores_0", "scores_1", "scores_2"]
    np.testing.assert_array_equal(columns["scores_2"], [3, 6])


def test_register_head_is_checked_and_what_the_spec_loader_accepts():
    spec = {"spec_version": 1, "name": "c", "inputs": {"x": {"type": "numeric", "column": "x"}},
            "outputs": {"visits": {"type": "poisson", "column": "visits"}}}
    with pytest.raises(mmkeras.SpecError, match="'poisson' is not one of binary, classification, multilabel"):
        mmkeras.load_spec(spec)
    with HEADS.temporarily("poisson", POISSON):
        assert mmkeras.load_spec(spec).outputs["visits"].type == "poisson"
        with pytest.raises(ValueError, match="already registered"):
            mmkeras.register_head("poisson")(Head(loss=lambda s: "mse", metrics=lambda s: ["mae"]))
        assert mmkeras.register_head("poisson", override=True)(POISSON) is POISSON
    assert "poisson" not in HEADS
    with pytest.raises(ValueError, match="Unknown head 'poisson'"):
        HEADS.get("poisson")
