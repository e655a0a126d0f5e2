"""The command line on bad data: exit status 2, one clean line naming row, column and file, nothing written;
`data.on_error: skip` trains on the good rows and lists the bad ones (the suite's one training run)."""

import contextlib
import io
import json
import os
import shutil

import keras
import pandas as pd
import pytest
import yaml

from mmkeras import cli
from mmkeras.cli import main
from mmkeras.errors import DataError
from mmkeras.runs.run_dir import load_run
from mmkeras.testing import tiny_demo

TF_NOISE = ("{{function_node", "[[", "Traceback", "Detected at node", "Graph execution error")


@pytest.fixture(scope="module")
def broken_spec(tmp_path_factory):
    """(spec file, folder) of the tiny demo (picture and reading only) whose train row 1 is a truncated PNG."""
    folder = str(tmp_path_factory.mktemp("robust_cli"))
    manifest, spec = tiny_demo(folder, n=48, jit_compile=False)
    spec["inputs"] = {k: spec["inputs"][k] for k in ("picture", "reading")}
    root = os.path.dirname(manifest)
    with open(os.path.join(root, "images", "00001.png"), "rb") as f:
        data = f.read()
    with open(os.path.join(root, "broken.png"), "wb") as f:
        f.write(data[:len(data) // 2])
    df = pd.read_csv(manifest)
    train = df.index[df["split"] == "train"]
    position = next(i for i, row in enumerate(train)  # a row whose class other train rows have too
                    if (df.loc[train, "label"] == df.loc[row, "label"]).sum() > 1)
    df.loc[train[position], "image_path"] = "broken.png"
    df.to_csv(manifest, index=False)
    path = os.path.join(folder, "spec.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(spec, f)
    return path, folder, position


def _listing(folder):
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                out[os.path.relpath(os.path.join(dirpath, name), folder)] = f.read()
    return out


def test_train_stops_before_training_with_one_clean_line(broken_spec, capsys):
    spec, folder, row = broken_spec
    out = os.path.join(folder, "run")
    assert main(["train", spec, "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"mmkeras train: error: Row {row} of train split (manifest.csv)")
    assert "column 'image_path', file broken.png: does not decode: Invalid PNG" in err
    assert not any(noise in err for noise in TF_NOISE)
    assert not os.path.exists(out)                                   # nothing written


def test_a_failed_overwrite_leaves_the_previous_run_untouched(broken_spec, capsys):
    spec, folder, row = broken_spec
    out = os.path.join(folder, "previous")
    os.makedirs(os.path.join(out, "saved_model"))
    for name, text in (("metrics.json", '{"test": {}}'), ("saved_model/saved_model.pb", "model")):
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
    before = _listing(out)
    assert main(["train", spec, "--out", out, "--overwrite", "--quiet"]) == 2
    assert f"Row {row} of train split" in capsys.readouterr().err
    assert _listing(out) == before


def test_debug_prints_tensorflows_text(monkeypatch, capsys):
    def failing(args):
        raise DataError("Row 3 of t, column 'a', file x.png: {{function_node __wrapped__DecodePng}} bad [[{{node y}}]]",
                        debug="{{function_node __wrapped__DecodePng}} bad [[{{node y}}]]")

    monkeypatch.setitem(cli.COMMANDS, "export", failing)
    assert main(["export", "run"]) == 2
    assert capsys.readouterr().err == "mmkeras export: error: Row 3 of t, column 'a', file x.png: bad\n"
    assert main(["--debug", "export", "run"]) == 2
    err = capsys.readouterr().err
    assert "error: Row 3 of t, column 'a', file x.png: bad\n" in err and "{{function_node __wrapped__DecodePng}}" in err


@pytest.fixture(scope="module")
def skipped_run(broken_spec):
    """(exit status, printed text, run directory) of `mmkeras train` with `data.on_error: skip` on the broken spec."""
    spec, folder, _ = broken_spec
    with open(spec) as f:
        skipping = yaml.safe_load(f)
    skipping["data"]["on_error"] = "skip"
    path = os.path.join(folder, "skip.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(skipping, f)
    out = os.path.join(folder, "skipped")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["train", path, "--out", out, "--quiet"])
    return status, printed.getvalue(), out


def test_skip_trains_on_the_good_rows_and_lists_the_bad_ones(broken_spec, skipped_run):
    _, _, row = broken_spec
    status, printed, out = skipped_run
    assert status == 0
    assert "skipped 1 bad rows (data.on_error: skip): does not decode 1; listed in bad_rows.csv" in printed
    bad = pd.read_csv(os.path.join(out, "bad_rows.csv"))
    assert bad[["split", "row", "column", "file"]].values.tolist() == [["train", row, "image_path", "broken.png"]]
    with open(os.path.join(out, "bad_rows.json")) as f:
        assert json.load(f) == {"count": 1, "by_reason": {"does not decode": 1}}
    assert os.path.isfile(os.path.join(out, "metrics.json"))
    with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
        page = f.read()
    assert "1 bad rows dropped before training (data.on_error: skip)" in page and "does not decode" in page


def test_predict_names_a_bad_row_or_predicts_every_good_one(broken_spec, skipped_run, capsys):
    spec, folder, row = broken_spec
    export = os.path.join(skipped_run[2], "saved_model")
    root = os.path.join(folder, "data")
    df = pd.read_csv(os.path.join(root, "manifest.csv")).query("split == 'test'").head(4).reset_index(drop=True)
    df.loc[1, "image_path"], df.loc[2, "image_path"] = "broken.png", "images/gone.png"
    table, out = os.path.join(root, "rows.csv"), os.path.join(folder, "predictions.csv")
    df.drop(index=2).to_csv(table, index=False)
    assert main(["predict", export, "--data", table, "--out", out]) == 2
    err = capsys.readouterr().err
    assert "Row 1 of" in err and "column 'image_path', file broken.png: cannot be decoded" in err
    assert not any(noise in err for noise in TF_NOISE) and not os.path.exists(out)
    df.to_csv(table, index=False)
    assert main(["predict", export, "--data", table, "--out", out, "--on-error", "skip"]) == 0
    assert "2 predictions written" in capsys.readouterr().out
    predictions = pd.read_csv(out)
    assert len(predictions) == 4 and predictions["label_label"].isna().tolist() == [False, True, True, False]
    bad = pd.read_csv(f"{out}.bad_rows.csv")
    assert bad[["row", "column", "file"]].values.tolist() == [[1, "image_path", "broken.png"],
                                                             [2, "image_path", "images/gone.png"]]


def test_a_keras_file_with_a_lambda_layer_is_refused(skipped_run, tmp_path):
    """`load_run` loads `model.keras` with safe_mode=True: a lambda (arbitrary code) in it is refused."""
    run = str(tmp_path / "run")
    shutil.copytree(skipped_run[2], run)  # a copy: the other tests use the run as it was written
    inputs = keras.Input((1,))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(os.path.join(run, "model.keras"))
    with pytest.raises(ValueError, match="safe_mode"):
        load_run(run)
