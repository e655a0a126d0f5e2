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
    assert "column 'image_path'" in err and table.loc[bad, "image_path"] in err and "row " in err.lower()
    assert "Traceback" not in err


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "mmkeras", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("demo", "train", "evaluate", "predict", "export"):
        assert command in out.stdout


# -- the error contract: a user error is one line and exit 2, a bug keeps its traceback --------------------------

def _one_error_line(capsys, command):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{command}: error: "), err
    return lines[0]


@pytest.mark.parametrize("argv, command, message", [
    (["evaluate", "no_such_run"], "mmkeras evaluate", "no_such_run is not a run directory: spec.json is missing"),
    (["export", "no_such_run"], "mmkeras export", "is not a run directory"),
    (["cv", "spec.yaml", "--folds", "one"], "mmkeras cv", "argument --folds: one is not an integer >= 2"),
    (["convert", "spec.yaml", "--out", "x", "--shards", "0"], "mmkeras convert",
     "argument --shards: 0 is not a positive number of files"),
    (["train", "spec.yaml"], "mmkeras train", "the following arguments are required: --out"),
    (["fly"], "mmkeras", "argument command: invalid choice: 'fly'"),
    ([], "mmkeras", "the following arguments are required: command"),
])
def test_user_errors_are_one_line_and_exit_2(argv, command, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in _one_error_line(capsys, command)


def test_a_data_error_is_one_line(tmp_path, demo_manifest, capsys):
    spec = tiny_spec_dict(demo_manifest)
    spec["data"]["path"] = str(tmp_path / "missing.csv")
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    assert main(["train", str(spec_path), "--out", str(tmp_path / "r")]) == 2
    assert "missing.csv" in _one_error_line(capsys, "mmkeras train")
    assert not os.path.exists(tmp_path / "r")


@pytest.mark.parametrize("error", [KeyError("a bug"), RuntimeError("a bug"), ValueError("a bug")])
def test_an_internal_error_is_not_swallowed(error, monkeypatch, capsys):
    import mmkeras.cli

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(mmkeras.cli, "export_run", broken)
    with pytest.raises(type(error), match="a bug"):
        main(["export", "some_run"])
    assert "error:" not in capsys.readouterr().err


def test_command_line_exit_status_and_traceback(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    user = subprocess.run([sys.executable, "-m", "mmkeras", "export", str(tmp_path / "none")],
                          capture_output=True, text=True, env=env)
    assert user.returncode == 2 and "Traceback" not in user.stderr
    assert user.stderr.strip().splitlines()[-1].startswith("mmkeras export: error: ")
    bug = subprocess.run([sys.executable, "-c", "import sys, mmkeras.cli as cli\n"
                          "cli.export_run = lambda *a, **k: {}['missing']\n"
                          "sys.exit(cli.main(['export', 'r']))"], capture_output=True, text=True, env=env)
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "KeyError: 'missing'" in bug.stderr
