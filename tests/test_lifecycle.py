"""The one run lifecycle: every way of training goes through `train_model`, which sets op determinism and turns
a TensorFlow pipeline error into a DataError; files.py and the text reports."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras.demo.run
import mmkeras.runs.cv
import mmkeras.runs.lifecycle
from helpers import tiny_spec_dict
from mmkeras.data import DataError
from mmkeras.data.sources import TableSource
from mmkeras.files import claim_directory, write_atomically, write_json
from mmkeras.reports.text import format_cv, format_importance, format_metrics, format_retrieval
from mmkeras.runs import TrainedModel, train_model
from mmkeras.specs import load_spec


def _quick(d, **training):
    """A demo spec dict cut to two cheap inputs, one epoch, no XLA: compiles and trains in seconds."""
    d["inputs"] = {k: d["inputs"][k] for k in ("reading", "colour")}
    d["fusion"] = {"type": "concat", "hidden_units": [16], "dropout": 0.0}
    d["training"].update({"epochs": 1, "batch_size": 16, "jit_compile": False, **training})
    return d


def _quick_spec(manifest, **training):
    return _quick(tiny_spec_dict(manifest), **training)


class _Stop(Exception):
    pass


def _spy(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_train_model_returns_everything_to_evaluate(demo_manifest):
    spec = load_spec(_quick_spec(demo_manifest))
    lines = []
    trained = train_model(spec, verbose=False, say=lines.append)
    assert isinstance(trained, TrainedModel) and trained.task.name == "outputs"
    assert trained.source.split_names == ["train", "validation", "test"]
    assert "val_loss" in trained.history.history            # the validation split is used when there is one
    assert lines[-1].startswith("training ") and lines[-1].endswith(" parameters for 1 epochs (XLA off, training.jit_compile: false)")
    metrics = trained.task.evaluate(trained.model, trained.preprocessor, trained.source, "test")
    assert metrics["label"]["count"] == trained.source.sizes()["test"]


def test_train_model_sets_op_determinism_when_asked(demo_manifest, monkeypatch):
    enabled = []
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: enabled.append(True))

    def stop(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(mmkeras.runs.lifecycle, "fit", stop)
    for deterministic in (False, True):
        with pytest.raises(_Stop):
            train_model(_quick_spec(demo_manifest, deterministic=deterministic), verbose=False)
        assert enabled == ([True] if deterministic else [])


def test_a_pipeline_error_in_training_becomes_a_data_error(demo_manifest, monkeypatch):
    def failing_fit(*args, **kwargs):
        raise tf.errors.InvalidArgumentError(
            None, None, "assertion failed: [row 3 of train split, column 'image_path', file x.png:] [Not a PNG]")

    monkeypatch.setattr(mmkeras.runs.lifecycle, "fit", failing_fit)
    with pytest.raises(DataError, match=r"row 3 of train split, column 'image_path', file x.png: Not a PNG"):
        train_model(_quick_spec(demo_manifest), verbose=False)


def test_cross_validation_trains_each_fold_with_train_model(demo_manifest, monkeypatch):
    calls = _spy(monkeypatch, mmkeras.runs.cv, "train_model")
    result = mmkeras.runs.cv.cross_validate(_quick_spec(demo_manifest), folds=2, verbose=False)
    assert len(calls) == 2
    for k, (args, _) in enumerate(calls):
        source = args[1]
        assert isinstance(source, TableSource) and source.split_names == ["train", "test"]
        assert source.sizes() == {"train": result["per_fold"][k]["train_rows"],
                                  "test": result["per_fold"][k]["test_rows"]}


def test_demo_trains_the_fused_run_and_the_singles_through_the_lifecycle(demo_manifest, tmp_path, monkeypatch):
    demo_spec_dict = mmkeras.demo.run.datasets.demo_spec_dict
    monkeypatch.setattr(mmkeras.demo.run.datasets, "demo_spec_dict", lambda manifest: _quick(demo_spec_dict(manifest)))
    runs = _spy(monkeypatch, mmkeras.demo.run, "train_run")
    singles = _spy(monkeypatch, mmkeras.demo.run, "train_model")
    report = mmkeras.demo.run.run_demo(str(tmp_path / "demo"), num_examples=64, verbose=False)
    assert len(runs) == 1 and [args[0].name for args, _ in singles] == ["demo_reading_only", "demo_colour_only"]
    assert set(report["single_accuracy"]) == {"reading", "colour"}
    assert report["export_max_abs_diff"] < 1e-4


# -- files.py and reports/text.py -------------------------------------------------------------------------------

def test_write_atomically_keeps_the_old_folder_until_the_new_one_is_complete(tmp_path):
    target = tmp_path / "out"

    def write(text):
        def fill(folder):
            with open(os.path.join(folder, "a.txt"), "w") as f:
                f.write(text)
        return fill

    write_atomically(str(target), write("one"), overwrite=False)
    with pytest.raises(FileExistsError, match="already exists"):
        write_atomically(str(target), write("two"), overwrite=False)

    def broken(folder):
        raise RuntimeError("half written")

    with pytest.raises(RuntimeError):
        write_atomically(str(target), broken, overwrite=True)
    assert (target / "a.txt").read_text() == "one"
    write_atomically(str(target), write("two"), overwrite=True)
    assert (target / "a.txt").read_text() == "two"
    assert sorted(os.listdir(tmp_path)) == ["out"]   # no temporary folder left


def test_write_json_and_claim_directory(tmp_path):
    path = write_json(str(tmp_path / "m.json"), {"a": [1, 2]})
    assert json.load(open(path)) == {"a": [1, 2]} and not os.path.exists(path + ".tmp")
    run = tmp_path / "run"
    claim_directory(str(run), overwrite=False)
    claim_directory(str(run), overwrite=False)          # an empty directory can be claimed again
    (run / "x").write_text("")
    with pytest.raises(FileExistsError, match="not empty"):
        claim_directory(str(run), overwrite=False)
    claim_directory(str(run), overwrite=True)


def test_reports_format_the_run_files():
    assert format_metrics({"test": {"y": {"mae": 1.25, "count": 3}}}) == ["  test       y            mae=1.2500"]
    m = {"a_to_b_recall@1": 0.5, "a_to_b_chance@1": 0.25, "a_to_b_median_rank": 2.0, "count": 4}
    assert format_retrieval({"test": {"retrieval": m}}) == [
        "  test       a_to_b               R@1 0.500 (chance 0.250)  median rank 2.0 of 4"]
    table = pd.DataFrame([{"input": "x", "type": "numeric", "metric": "y.r2", "with_all": 0.5, "without": 0.25,
                           "drop": 0.25, "fusion_weight": 0.75}])
    assert format_importance(table)[-1] == "  x              numeric        0.2500   0.2500          0.750"
    assert format_importance(table.iloc[:0]) == []
    result = {"spec": "s", "folds": 2, "rows": 4, "stratify": "label", "summary": {},
              "per_fold": [{"fold": 0, "train_rows": 2, "test_rows": 2, "metrics": {"y": {"r2": np.float64(1)}}}]}
    assert format_cv(result)[0] == "2-fold cross-validation of s (4 rows, stratified by label)"
    assert format_cv(result)[-1] == "  fold 0: 2 train / 2 held out  y.r2=1.0000"
