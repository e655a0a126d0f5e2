"""Plots of a retrieval run: recall@k both ways against chance, and the query -> top-5 grid drawn with pictures."""

import os

import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.reports import retrieval_plots
from mmkeras.reports.records import read_embeddings
from mmkeras.runs.lifecycle import train_run
from mmkeras.tasks.retrieval.metrics import retrieval_metrics
from mmkeras.testing import tiny_spec_dict


@pytest.fixture(scope="module")
def retrieval_run(tmp_path_factory, demo_manifest):
    spec = tiny_spec_dict(demo_manifest, jit_compile=False)
    spec["inputs"] = {"picture": {**spec["inputs"]["picture"], "encoder": {"type": "cnn", "filters": [4],
                                                                           "dense_units": 8}},
                      "caption": spec["inputs"]["caption"]}
    spec["task"] = {"type": "retrieval", "pair": ["picture", "caption"], "embedding_dim": 8}
    del spec["outputs"], spec["fusion"]
    run = str(tmp_path_factory.mktemp("retrieval") / "run")
    train_run(spec, run, verbose=False)
    return run


def test_a_retrieval_run_records_embeddings_and_draws_its_plots(retrieval_run):
    embeddings = read_embeddings(retrieval_run, "test")
    assert embeddings["picture"].shape == (len(embeddings["caption"]), 8)
    assert all(str(v).endswith(".png") and os.path.isfile(v) for v in embeddings["picture__raw"])
    assert sorted(os.listdir(os.path.join(retrieval_run, "plots"))) == [
        "caption_to_picture_top5.png", "learning_curves.png", "picture_to_caption_top5.png", "retrieval_recall.png"]
    page = open(os.path.join(retrieval_run, "report.html"), encoding="utf-8").read()
    assert page.count("data:image/png;base64,") == 4 and "picture_to_caption_recall@1" in page


def test_recall_curve_equals_the_metrics(retrieval_run):
    embeddings = read_embeddings(retrieval_run, "test")
    figure = mmkeras.plot.recall_at_k(retrieval_run)
    lines = {line.get_label(): line.get_ydata() for line in figure.axes[0].get_lines()}
    values = {n: embeddings[f"{n}__raw"] for n in ("picture", "caption")}
    metrics = retrieval_metrics({n: embeddings[n] for n in ("picture", "caption")}, values, ks=(1, 5))
    assert lines["picture -> caption"][0] == pytest.approx(metrics["picture_to_caption_recall@1"])
    assert lines["caption -> picture"][4] == pytest.approx(metrics["caption_to_picture_recall@5"])
    assert lines["chance"][0] == pytest.approx(metrics["caption_to_picture_chance@1"])


def test_top_results_grid_shows_pictures_and_frames_hits():
    picture = np.eye(4)
    embeddings = {"name": picture, "picture": picture[[0, 1, 3, 2]],        # rows 2 and 3 swapped: misses
                  "name__raw": np.array(["a", "b", "c", "d"]),
                  "picture__raw": np.array(["p0", "p1", "p2", "p3"])}
    figure = retrieval_plots.top_results_grid(embeddings, "name", "picture", queries=4, k=2)
    grid = np.array(figure.axes).reshape(4, 3)
    first = [[s.get_edgecolor() for s in grid[r, 1].spines.values()][0] for r in range(4)]
    green, red = (0.17254901960784313, 0.6274509803921569, 0.17254901960784313, 1.0), (0.8392156862745098,
                                                                                        0.15294117647058825,
                                                                                        0.1568627450980392, 1.0)
    assert [tuple(c) for c in first] == [green, green, red, red]
    assert grid[0, 0].texts[0].get_text() == "a"                   # a text query is written out


def test_top_results_draws_image_files(tmp_path):
    png = tmp_path / "x.png"
    png.write_bytes(tf.io.encode_png(np.full((6, 6, 3), 200, np.uint8)).numpy())
    embeddings = {"name": np.eye(2), "picture": np.eye(2), "picture__raw": np.array([str(png), str(png)])}
    figure = retrieval_plots.top_results_grid(embeddings, "name", "picture", queries=1, k=2)
    assert figure.axes[1].get_images()[0].get_array().shape == (6, 6, 3)
