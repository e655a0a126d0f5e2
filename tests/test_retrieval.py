"""Cross-modal retrieval: InfoNCE, recall@k, spec checks, a tiny dual encoder end to end."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import mmkeras
from helpers import tiny_spec_dict
from mmkeras.testing import retrieval_spec_dict
from mmkeras.data import DataError
from mmkeras.tasks.retrieval import (DualEncoder, chance_recall, in_batch_accuracy, info_nce_loss, paired_rows, ranks,
                               retrieval_metrics, top_k)
from mmkeras.runs import evaluate_run, load_run, predict_table, train_run
from mmkeras.specs import SpecError

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host


# -- the loss and the metrics, against hand computations -------------------------------------

def _numpy_info_nce(a, b, scale):
    logits = scale * a @ b.T

    def cross_entropy(z):
        z = z - z.max(axis=1, keepdims=True)
        log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -np.mean(np.diag(log_softmax))

    return (cross_entropy(logits) + cross_entropy(logits.T)) / 2


def test_info_nce_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    for scale in (1.0, 14.3):
        got = float(info_nce_loss(a.astype("float32"), b.astype("float32"), scale))
        np.testing.assert_allclose(got, _numpy_info_nce(a, b, scale), rtol=1e-5)
    # Asymmetric similarities: both directions count, so swapping a and b gives the same loss.
    assert abs(float(info_nce_loss(a, b, 3.0)) - float(info_nce_loss(b, a, 3.0))) < 1e-5
    # Perfectly aligned pairs with a sharp temperature: the loss goes to 0; uniform: log(n).
    assert float(info_nce_loss(np.eye(4), np.eye(4), 100.0)) < 1e-6
    np.testing.assert_allclose(float(info_nce_loss(np.ones((5, 2)) / np.sqrt(2), np.ones((5, 2)) / np.sqrt(2), 1.0)),
                               np.log(5), rtol=1e-6)
    assert float(in_batch_accuracy(np.eye(3), np.eye(3)[[1, 0, 2]])) == pytest.approx(1 / 3)


def test_ranks_recall_and_median_rank_by_hand():
    # Index items e0..e3; query i's partner is item i.
    index = np.eye(4)
    queries = np.array([[1.0, 0.0, 0.0, 0.0],     # partner first            -> rank 1
                        [0.9, 0.5, 0.0, 0.0],     # item 0 beats item 1      -> rank 2
                        [0.1, 0.2, 0.0, 0.3],     # 3, 1, 0 before 2 (0)     -> rank 4
                        [0.0, 0.0, 0.5, 0.4]])    # item 2 beats item 3      -> rank 2
    np.testing.assert_array_equal(ranks(queries, index), [1, 2, 4, 2])
    m = retrieval_metrics({"a": queries, "b": index}, ks=(1, 2))
    assert m["a_to_b_recall@1"] == 0.25 and m["a_to_b_recall@2"] == 0.75
    assert m["a_to_b_median_rank"] == 2.0
    assert m["a_to_b_mean_reciprocal_rank"] == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 2) / 4)
    assert m["a_to_b_chance@1"] == 0.25 and m["a_to_b_chance@2"] == 0.5
    # The other direction ranks the queries for each item (a column above): item 2's column is
    # [0, 0, 0, 0.5]: q3 first, then the ties q0, q1 in order before q2 -> rank 4; the others come first.
    np.testing.assert_array_equal(ranks(index, queries), [1, 1, 4, 1])
    assert m["b_to_a_recall@1"] == 0.75 and m["b_to_a_median_rank"] == 1.0 and m["count"] == 4


def test_duplicate_values_count_as_hits():
    index = np.eye(3)
    queries = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # query 0 finds item 1 first
    assert list(ranks(queries, index)) == [2, 1, 1]
    # Items 0 and 1 hold the same name: retrieving item 1 for query 0 is a hit.
    names = np.array(["grinning face", "grinning face", "rocket"], object)
    assert list(ranks(queries, index, names)) == [1, 1, 1]
    m = retrieval_metrics({"picture": queries, "name": index}, {"picture": names, "name": names}, ks=(1,))
    assert m["picture_to_name_recall@1"] == 1.0
    # Chance with duplicates: queries 0 and 1 accept 2 of 3 items, query 2 one of 3.
    assert m["picture_to_name_chance@1"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    assert chance_recall(["a", "b", "c", "d"], 2) == pytest.approx(0.5)
    assert chance_recall(["a", "a", "b", "c"], 2) == pytest.approx((2 * (1 - (2 / 4) * (1 / 3)) + 2 * 0.5) / 4)


def test_top_k_returns_indices_and_scores_best_first():
    index = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]], np.float32)
    indices, scores = top_k(np.array([[0.0, 1.0], [1.0, 0.0]], np.float32), index, k=2)
    np.testing.assert_array_equal(indices, [[1, 2], [0, 2]])
    np.testing.assert_allclose(scores, [[1.0, 0.8], [1.0, 0.6]], rtol=1e-6)
    one, one_scores = top_k(np.array([-1.0, 0.0]), index, k=10)  # one query; k larger than the index
    np.testing.assert_array_equal(one, [3, 1, 2, 0])
    np.testing.assert_allclose(one_scores, [1.0, 0.0, -0.6, -1.0], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        top_k(index, index, k=0)
    with pytest.raises(ValueError, match="same dim"):
        top_k(np.ones((1, 3)), index)


# -- the spec --------------------------------------------------------------------------------

def test_retrieval_spec_loads_and_round_trips(demo_manifest):
    spec = mmkeras.load_spec(retrieval_spec_dict(demo_manifest))
    assert spec.task.pair == ("picture", "caption") and spec.outputs == {}
    assert spec.task.temperature == 0.07 and spec.task.learn_temperature is True
    again = mmkeras.load_spec(json.loads(json.dumps(spec.to_dict())))
    assert again.task == spec.task and again.inputs == spec.inputs and "outputs" not in spec.to_dict()


@pytest.mark.parametrize("change, message", [
    ({"task": {"type": "retrieval", "pair": ["picture"]}}, r"^task\.pair: \['picture'\] must name exactly 2"),
    ({"task": {"type": "retrieval", "pair": ["picture", "sound"]}},
     r"^task\.pair\[1\]: 'sound' is not an input\. Inputs: picture, caption"),
    ({"task": {"type": "retrieval", "pair": ["caption", "caption"]}}, r"^task\.pair: .* two different inputs"),
    ({"task": {"type": "ranking", "pair": ["picture", "caption"]}}, r"^task\.type: 'ranking' is not one of retrieval"),
    ({"task": {"type": "retrieval"}}, r"^task\.pair: is required"),
    ({"task": {"type": "retrieval", "pair": ["picture", "caption"], "temperature": 5.0}},
     r"^task\.temperature: 5\.0 is not in \[0\.01, 1\]"),
    ({"task": {"type": "retrieval", "pair": ["picture", "caption"], "embedding_dim": 0}},
     r"^task\.embedding_dim: 0 is below the minimum 1"),
    ({"outputs": {"label": {"type": "classification", "column": "label"}}}, r"^outputs: is not used with task"),
    ({"fusion": {"type": "concat"}}, r"^fusion: is not used with task"),
    ({"inputs": "+reading"}, r"^inputs\.reading: is not used: task: retrieval reads only the pair"),
])
def test_retrieval_spec_errors(demo_manifest, change, message):
    spec = retrieval_spec_dict(demo_manifest)
    for key, value in change.items():
        if value == "+reading":
            spec["inputs"]["reading"] = {"type": "numeric", "column": "reading"}
        else:
            spec[key] = value
    with pytest.raises(SpecError, match=message):
        mmkeras.load_spec(spec)


def test_spec_without_task_still_needs_outputs(demo_manifest):
    spec = tiny_spec_dict(demo_manifest)
    del spec["outputs"]
    with pytest.raises(SpecError, match="^outputs: must be a non-empty mapping"):
        mmkeras.load_spec(spec)


def test_paired_rows_leaves_out_rows_missing_either_side(demo_manifest):
    spec = mmkeras.load_spec(retrieval_spec_dict(demo_manifest))
    df = pd.DataFrame({"image_path": ["a.png", "", "c.png", np.nan], "text": ["x", "y", " ", "z"]})
    kept, dropped = paired_rows(spec, df)
    assert list(kept["image_path"]) == ["a.png"] and dropped == 3


# -- a tiny dual encoder end to end ---------------------------------------------------------------

@pytest.fixture(scope="module")
def retrieval_run(tmp_path_factory, demo_manifest):
    run_dir = str(tmp_path_factory.mktemp("retrieval") / "run")
    metrics = train_run(retrieval_spec_dict(demo_manifest), run_dir, verbose=False)  # dispatches on `task`
    return run_dir, metrics


def test_run_directory_and_metrics(retrieval_run):
    run_dir, metrics = retrieval_run
    for name in ("spec.json", "preprocessor", "model.keras", "history.csv", "metrics.json", "saved_model"):
        assert os.path.exists(os.path.join(run_dir, name)), name
    with open(os.path.join(run_dir, "metrics.json")) as f:
        written = json.load(f)
    assert written == json.loads(json.dumps(metrics))
    test = written["test"]["retrieval"]
    for direction in ("picture_to_caption", "caption_to_picture"):
        for k in (1, 5, 10):
            assert 0.0 <= test[f"{direction}_recall@{k}"] <= 1.0
        assert 1 <= test[f"{direction}_median_rank"] <= test["count"]
        assert test[f"{direction}_chance@1"] == pytest.approx(1 / test["count"])  # demo captions are unique
    assert "validation" in written
    history = pd.read_csv(os.path.join(run_dir, "history.csv"))
    assert {"loss", "pair_accuracy", "val_loss", "temperature"} <= set(history.columns)
    assert np.isfinite(history["loss"]).all() and 0.01 <= history["temperature"].iloc[-1] <= 1


@pytest.fixture(scope="module")
def loaded_run(retrieval_run):
    return load_run(retrieval_run[0])


def test_model_reloads_with_xla_and_evaluate_recomputes(retrieval_run, loaded_run):
    run_dir, metrics = retrieval_run
    spec, pre, model = loaded_run
    assert isinstance(model, DualEncoder) and model.jit_compile is True
    assert model.pair == ["picture", "caption"] and model.tower("picture").output_shape == (None, 8)
    recomputed, path = evaluate_run(run_dir)
    assert path.endswith("evaluation.json")
    for key, value in metrics["test"]["retrieval"].items():
        assert recomputed["test"]["retrieval"][key] == pytest.approx(value, abs=1e-6), key


_EMBED_SCRIPT = r"""
import sys, numpy as np, tensorflow as tf
saved_model, batch_file, out_file = sys.argv[1:4]
batch = dict(np.load(batch_file, allow_pickle=True))
export = tf.saved_model.load(saved_model)
out = {}
for name, values in batch.items():
    fn = export.signatures["embed_" + name]
    out[name] = fn(**{name: tf.constant(values, dtype=tf.string)})["embedding"].numpy()
np.savez(out_file, **out)
assert "mmkeras" not in sys.modules, "the export needed mmkeras"
"""


def test_embed_signatures_served_without_mmkeras_match_the_towers(retrieval_run, loaded_run, tmp_path):
    run_dir, metrics = retrieval_run
    spec, pre, model = loaded_run
    df = mmkeras.load_splits(spec)["test"]
    raw = pre.raw_columns(df)
    batch = {"picture": np.array([open(p, "rb").read() for p in raw["picture"]], object),
             "caption": np.asarray(raw["caption"], object)}
    np.savez(tmp_path / "batch.npz", **batch)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", _EMBED_SCRIPT, os.path.join(run_dir, "saved_model"),
                             str(tmp_path / "batch.npz"), str(tmp_path / "out.npz")],
                            capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    served = dict(np.load(tmp_path / "out.npz"))
    inputs = next(iter(mmkeras.make_dataset(spec, df, pre, with_targets=False, batch_size=len(df))))
    expected = {name: value.numpy() for name, value in model(inputs, training=False).items()}
    for name in ("picture", "caption"):
        assert served[name].shape == (len(df), 8)
        np.testing.assert_allclose(served[name], expected[name], atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(served[name], axis=1), 1.0, atol=1e-5)
    # The export's embeddings give the run's recall: rank the test captions for each picture.
    r = ranks(served["picture"], served["caption"], raw["caption"])
    assert float(np.mean(r <= 5)) == pytest.approx(metrics["test"]["retrieval"]["picture_to_caption_recall@5"])
    meta = json.load(open(os.path.join(run_dir, "saved_model", "assets.extra", "mmkeras.json")))
    assert meta["task"] == {"type": "retrieval", "pair": ["picture", "caption"], "embedding_dim": 8}


def test_predict_on_a_retrieval_export_explains_itself(retrieval_run, demo_manifest):
    run_dir, _ = retrieval_run
    with pytest.raises(DataError, match="retrieval export: it has the signatures embed_picture, embed_caption"):
        predict_table(os.path.join(run_dir, "saved_model"), demo_manifest)


@pytest.mark.skipif(os.environ.get("MMKERAS_FULL") != "1", reason="set MMKERAS_FULL=1: trains OpenMoji (minutes)")
def test_openmoji_retrieval_beats_chance(tmp_path):
    spec_file = os.path.join(os.path.dirname(__file__), "..", "data_specs", "openmoji_retrieval.yaml")
    spec = mmkeras.load_spec(spec_file)
    if not os.path.isfile(spec.data.path):
        pytest.skip(f"{spec.data.path} is absent")
    test = train_run(spec_file, str(tmp_path / "run"), verbose=False)["test"]["retrieval"]
    assert test["count"] == 90
    for direction in ("picture_to_name", "name_to_picture"):
        assert test[f"{direction}_recall@10"] > 2 * test[f"{direction}_chance@10"]
        assert test[f"{direction}_median_rank"] < 45
