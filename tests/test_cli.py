"""The `mmkeras` command: train, evaluate, predict, export, and clean errors."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from mmkeras.cli import main
from helpers import tiny_spec_dict


def test_run_directory_contract(trained_run):
    run_dir, _ = trained_run
    for name in ("spec.json", "model.keras", "preprocessor/preprocessor.json", "history.csv",
                 "metrics.json", "saved_model/saved_model.pb"):
        assert os.path.exists(os.path.join(run_dir, name)), name
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert set(metrics) == {"validation", "test"}
    label = metrics["test"]["label"]
    assert {"accuracy", "macro_f1", "per_class"} <= set(label)
    assert {"precision", "recall"} <= set(next(iter(label["per_class"].values())))
    history = pd.read_csv(os.path.join(run_dir, "history.csv"))
    assert "loss" in history.columns and "val_loss" in history.columns


def test_evaluate_any_table(trained_run, tmp_path, capsys):
    run_dir, spec = trained_run
    table = pd.read_csv(spec["data"]["path"]).head(10)
    path = tmp_path / "rows.csv"
    table.to_csv(path, index=False)
    assert main(["evaluate", run_dir, "--data", str(path), "--root", spec["data"]["root"],
                 "--out", str(tmp_path / "m.json")]) == 0
    assert "accuracy=" in capsys.readouterr().out
    metrics = json.load(open(tmp_path / "m.json"))
    assert metrics["rows"]["label"]["count"] == 10


def test_predict_writes_labels_and_probabilities(trained_run, tmp_path):
    run_dir, spec = trained_run
    table = pd.read_csv(spec["data"]["path"]).drop(columns=["label"]).head(5)
    path = tmp_path / "new.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "preds.csv"
    assert main(["predict", os.path.join(run_dir, "saved_model"), "--data", str(path),
                 "--root", spec["data"]["root"], "--out", str(out)]) == 0
    preds = pd.read_csv(out)
    assert len(preds) == 5 and "label_label" in preds
    prob_columns = [c for c in preds if c.startswith("label_prob_")]
    assert len(prob_columns) == 8
    assert preds[prob_columns].sum(axis=1).round(4).eq(1).all()


def test_predict_names_row_column_and_file_of_a_corrupt_file(trained_run, tmp_path, capsys):
    run_dir, spec = trained_run
    table = pd.read_csv(spec["data"]["path"]).head(5)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    table.loc[3, "image_path"] = str(bad)
    path = tmp_path / "broken.csv"
    table.to_csv(path, index=False)
    assert main(["predict", os.path.join(run_dir, "saved_model"), "--data", str(path),
                 "--root", spec["data"]["root"], "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert "Row 3 of" in err and "column 'image_path'" in err and "broken.png" in err and "Not a PNG" in err


def test_export_refuses_to_overwrite(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["export", run_dir]) == 2
    assert "already exists" in capsys.readouterr().err


def test_train_refuses_a_non_empty_run_dir(trained_run, demo_manifest, tmp_path, capsys):
    run_dir, _ = trained_run
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(tiny_spec_dict(demo_manifest)))
    assert main(["train", str(spec_path), "--out", run_dir]) == 2
    assert "not empty" in capsys.readouterr().err


def test_bad_spec_is_one_clean_line(tmp_path, demo_manifest, capsys):
    spec = tiny_spec_dict(demo_manifest)
    spec["inputs"]["sound"]["type"] = "audoi"
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    assert main(["train", str(spec_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "inputs.sound.type: 'audoi' is not one of image, text, audio, numeric, categorical" in err
    assert "Traceback" not in err
    assert not os.path.exists(tmp_path / "r")


def test_corrupt_image_names_row_column_and_file(tmp_path, demo_manifest, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(os.path.dirname(demo_manifest), data)
    table = pd.read_csv(data / "manifest.csv")
    bad = table[table["split"] == "train"].index[3]
    (data / table.loc[bad, "image_path"]).write_bytes(b"\x89PNG but truncated")
    spec = tiny_spec_dict(str(data / "manifest.csv"))
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    assert main(["train", str(spec_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "column 'image_path'" in err and table.loc[bad, "image_path"] in err and "row " in err
    assert "Traceback" not in err


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "mmkeras", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("demo", "train", "evaluate", "predict", "export"):
        assert command in out.stdout
