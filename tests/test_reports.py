"""Plots and the HTML report of a run (mmkeras.plot, mmkeras.reports, `mmkeras report`), on one tiny multi-task run:
a classification, a binary and a regression output over two cheap inputs, weighted fusion, one epoch, XLA off.
The page is rendered in headless Chromium where it is installed (`apt-get install chromium`)."""

import base64
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import mmkeras
from mmkeras.cli import main
from mmkeras.reports import plots
from mmkeras.reports.html import REPORT_FILE
from mmkeras.reports.records import read_predictions, read_run_info
from mmkeras.runs.lifecycle import train_run
from mmkeras.runs.reporting import report_run
from mmkeras.tasks.outputs.scoring import roc_auc
from mmkeras.testing import tiny_spec_dict

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PNG = b"\x89PNG\r\n\x1a\n"


def multitask_spec(manifest):
    """The demo table with a binary and a regression column added; inputs reading + colour, weighted fusion."""
    df = pd.read_csv(manifest)
    df["shape"] = np.where(df["label"].str.startswith("circle"), "circle", "square")
    df["score"] = df["reading"].fillna(0.0) * 2.0 + np.arange(len(df)) % 3
    table = os.path.join(os.path.dirname(manifest), "multitask.csv")
    df.to_csv(table, index=False)
    spec = tiny_spec_dict(manifest, jit_compile=False, epochs=2)
    spec["data"]["path"] = table
    spec["inputs"] = {k: spec["inputs"][k] for k in ("reading", "colour")}
    spec["fusion"] = {"type": "weighted", "hidden_units": [8]}
    spec["outputs"] = {"label": {"type": "classification", "column": "label"},
                       "shape": {"type": "binary", "column": "shape", "positive": "circle"},
                       "score": {"type": "regression", "column": "score"}}
    return spec


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, demo_manifest):
    run = str(tmp_path_factory.mktemp("report") / "run")
    train_run(multitask_spec(demo_manifest), run, verbose=False)
    return run


def test_train_records_predictions_and_run_facts(run_dir):
    info = read_run_info(run_dir)
    assert info["sizes"] == {"train": 44, "validation": 10, "test": 10} or sum(info["sizes"].values()) == 64
    assert info["epochs"] == 2 and info["xla"] is False and info["parameters"] > 0
    frame = read_predictions(run_dir, "test")
    assert len(frame) == info["sizes"]["test"]
    for column in ("label_true", "label_label", "shape_true", "shape_prob_circle", "shape_prob_square",
                   "score_true", "score"):
        assert column in frame.columns
    probs = frame[[c for c in frame.columns if c.startswith("label_prob_")]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    accuracy = float(np.mean(frame["label_true"].astype(str) == frame["label_label"].astype(str)))
    assert accuracy == pytest.approx(metrics["test"]["label"]["accuracy"])   # the same predictions as the metrics
    mae = float(np.mean(np.abs(frame["score"] - frame["score_true"])))
    assert mae == pytest.approx(metrics["test"]["score"]["mae"], rel=1e-4)


def test_train_writes_every_plot(run_dir):
    names = sorted(os.listdir(os.path.join(run_dir, "plots")))
    assert names == ["importance.png", "label_confusion_matrix.png", "label_per_class.png", "learning_curves.png",
                     "score_regression.png", "shape_confusion_matrix.png", "shape_per_class.png",
                     "shape_roc_pr.png"]
    for name in names:
        with open(os.path.join(run_dir, "plots", name), "rb") as f:
            assert f.read(8) == PNG


def test_plot_functions_return_figures_from_a_run_or_objects(run_dir):
    history = pd.read_csv(os.path.join(run_dir, "history.csv"))
    for figure in (mmkeras.plot.learning_curves(run_dir), mmkeras.plot.learning_curves(history.to_dict("list")),
                   mmkeras.plot.confusion_matrix(run_dir, "label"), mmkeras.plot.per_class(run_dir, "shape"),
                   mmkeras.plot.roc_pr(run_dir, "shape"), mmkeras.plot.regression(run_dir, "score"),
                   mmkeras.plot.importance(run_dir)):
        assert isinstance(figure, Figure)
    curves = mmkeras.plot.learning_curves(run_dir)
    titles = [a.get_title() for a in curves.axes]
    assert titles[0] == "loss" and "label_accuracy" in titles
    loss = curves.axes[0]
    assert sorted(line.get_label() for line in loss.get_lines()) == ["train", "validation"]
    np.testing.assert_allclose(loss.get_lines()[0].get_ydata(), history["loss"])
    matrix = mmkeras.plot.confusion_matrix(run_dir, "label").axes[0]
    classes = [t.get_text() for t in matrix.get_yticklabels()]
    assert classes == sorted(pd.read_csv(os.path.join(run_dir, "predictions_test.csv"))["label_true"].unique()) \
        or len(classes) == 8
    shares = matrix.get_images()[0].get_array()
    rows = shares.sum(axis=1)
    assert np.all((np.abs(rows - 1) < 1e-9) | (rows == 0))            # normalised per true class
    weights = mmkeras.plot.importance(run_dir)
    assert [a.get_title() for a in weights.axes][1] == "learned fusion weight"
    assert sum(p.get_height() for p in weights.axes[1].patches) == pytest.approx(1.0, abs=1e-3)  # softmax weights


def test_roc_and_pr_points_match_hand_computed_values():
    fpr, tpr = plots.roc_points([0, 1, 1, 0, 1], [0.1, 0.9, 0.6, 0.6, 0.3])
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0] and tpr.tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1, 1])
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc([0, 1, 1, 0, 1], [0.1, 0.9, 0.6, 0.6, 0.3]))
    recall, precision, ap = plots.pr_points([1, 0, 1], [0.9, 0.8, 0.1])
    assert recall.tolist() == [0.5, 0.5, 1.0] and precision.tolist() == [1.0, 0.5, 0.667]
    assert ap == pytest.approx(0.5 * 1.0 + 0.5 * (2 / 3))


def test_report_is_one_self_contained_page(run_dir):
    page = open(os.path.join(run_dir, REPORT_FILE), encoding="utf-8").read()
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert sorted(name for name, _ in images) == sorted(n[:-4] for n in os.listdir(os.path.join(run_dir, "plots")))
    for _, data in images:
        assert base64.b64decode(data)[:8] == PNG
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    assert "<link" not in page.lower()                                   # no style sheet or font from elsewhere
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    for text in ("Headline metrics", "Total params", '"spec_version": 1', "Modality importance",
                 f"{metrics['test']['label']['accuracy']:.4f}", f"{metrics['test']['score']['r2']:.4f}"):
        assert text in page, text


def test_report_command_writes_elsewhere_and_refuses_to_overwrite(run_dir, tmp_path, capsys):
    out = str(tmp_path / "page.html")
    assert main(["report", run_dir, "--out", out]) == 0
    assert os.path.isfile(out) and out in capsys.readouterr().out
    assert main(["report", run_dir, "--out", out]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["report", run_dir, "--out", out, "--overwrite"]) == 0


def test_report_of_a_run_without_the_new_files(run_dir, tmp_path):
    old = str(tmp_path / "old_run")
    shutil.copytree(run_dir, old)
    for name in ("run.json", "model_summary.txt", "predictions_test.csv", "predictions_validation.csv", "plots",
                 REPORT_FILE):
        path = os.path.join(old, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    path = report_run(old)                     # predictions are recomputed from the run's model and data
    page = open(path, encoding="utf-8").read()
    assert "shape_roc_pr" in page and "Total params" in page


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    page = open(os.path.join(run_dir, REPORT_FILE), encoding="utf-8").read()
    probe = ("<script>window.addEventListener('load', () => { const images = [...document.images];"
             "document.body.dataset.images = images.length;"
             "document.body.dataset.loaded = images.filter(i => i.complete && i.naturalWidth > 0).length;"
             "document.body.dataset.text = document.body.innerText.length; });</script>")
    checked = tmp_path / "checked.html"             # a copy with a probe script; the report itself has none
    checked.write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", checked.as_uri()], capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    images = int(re.search(r'data-images="(\d+)"', body).group(1))
    assert images == len(os.listdir(os.path.join(run_dir, "plots"))) and f'data-loaded="{images}"' in body
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert f"{metrics['test']['label']['accuracy']:.4f}" in dom and "Modality importance" in dom
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,2000", f"--screenshot={shot}", checked.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == PNG and shot.stat().st_size > 20_000
