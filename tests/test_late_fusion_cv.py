"""Late fusion (hand-set weights, masking, save/load, end to end) and `mmkeras cv`."""

import json
import os
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from helpers import tiny_spec_dict
from mmkeras.cli import main
from mmkeras.runs.cv import fold_assignment, summarize
from mmkeras.fusion.late import LateCombine, add_aux_targets, aux_outputs, late_outputs
from mmkeras.specs import SpecError, load_spec

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host

RNG = np.random.default_rng(0)
Z = [RNG.normal(size=(4, 3)).astype("float32") for _ in range(3)]   # per-input logits, 3 inputs
#                  example: 0 all present, 1 input 1 missing, 2 only input 1, 3 none
MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 1, 0], [0, 0, 0]], "float32")


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def run(layer, z, mask):
    return keras.ops.convert_to_numpy(layer([keras.ops.convert_to_tensor(t) for t in z], mask))


# ---- LateCombine with hand-set weights ---------------------------------------------------------------------------

def test_mean_is_the_masked_mean_of_the_logits():
    out = run(LateCombine("mean", activation="softmax"), Z, MASK)
    stacked = np.stack(Z, 1) * MASK[:, :, None]
    expected = softmax(stacked.sum(1) / np.maximum(MASK.sum(1, keepdims=True), 1))
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(out[3], np.full(3, 1 / 3), atol=1e-6)  # nothing present: uniform


@pytest.mark.parametrize("j", [0, 1, 2])
def test_weighted_forced_to_one_input_reproduces_its_head(j):
    layer = LateCombine("weighted", activation="sigmoid")
    run(layer, Z, MASK)
    logits = np.zeros(3, "float32")
    logits[j] = 60.0
    layer.modality_logits.assign(logits)
    out = run(layer, Z, np.ones_like(MASK))
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-Z[j])), atol=1e-6)
    # With input j missing the weight goes to the others, by their softmax (here equal).
    masked = MASK.copy()
    masked[:, j] = 0
    out = run(layer, Z, masked)
    others = [i for i in range(3) if i != j]
    m = masked[:, others]
    z = sum(Z[i] * m[:, k:k + 1] for k, i in enumerate(others)) / np.maximum(m.sum(1, keepdims=True), 1)
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-z)), atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.modality_weights(np.ones([1, 3], "float32")))[0, j],
                               1.0, atol=1e-6)


@pytest.mark.parametrize("j", [0, 2])
def test_stacking_selecting_one_input_reproduces_its_head(j):
    layer = LateCombine("stacking")  # regression-style: no activation
    np.testing.assert_allclose(run(layer, Z, np.ones_like(MASK)), np.mean(Z, 0), atol=1e-6)  # starts as the mean
    kernel = np.zeros([9, 3], "float32")
    kernel[3 * j:3 * j + 3] = np.eye(3)
    layer.stack.set_weights([kernel, np.full(3, 0.5, "float32")])
    np.testing.assert_allclose(run(layer, Z, np.ones_like(MASK)), Z[j] + 0.5, atol=1e-6)
    masked = np.ones_like(MASK)
    masked[:, j] = 0
    np.testing.assert_allclose(run(layer, Z, masked), np.full([4, 3], 0.5), atol=1e-6)  # zeroed, bias only


@pytest.mark.parametrize("combine", ["mean", "weighted", "stacking"])
def test_a_missing_input_never_influences_the_result(combine):
    layer = LateCombine(combine, activation="softmax")
    run(layer, Z, MASK)
    if combine == "weighted":
        layer.modality_logits.assign([0.3, -1.0, 2.0])
    poisoned = [z.copy() for z in Z]
    for i in range(3):
        poisoned[i][MASK[:, i] == 0] = np.nan   # missing rows hold garbage
    clean = run(layer, Z, MASK)
    np.testing.assert_allclose(run(layer, poisoned, MASK), clean, atol=1e-6)
    assert not np.allclose(clean[0], run(layer, [Z[0] + [3.0, 0.0, -3.0], Z[1], Z[2]], MASK)[0])


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="combine"):
        LateCombine("max")


# ---- late_outputs in a functional graph ---------------------------------------------------------------------------

def _late_spec(manifest, **fusion):
    spec = tiny_spec_dict(manifest)
    spec["fusion"] = {"type": "late", "hidden_units": [4], **fusion}
    return spec


def _graph(spec, classes=8):
    targets = {name: types.SimpleNamespace(classes=[str(i) for i in range(classes)] if o.type != "regression"
                                           else []) for name, o in spec.outputs.items()}
    pre = types.SimpleNamespace(targets=targets)
    widths = [3, 5, 2, 4, 3][:len(spec.inputs)]
    encoded = [keras.Input((w,), name=f"enc_{n}") for w, n in zip(widths, spec.inputs)]
    presence = keras.Input((len(widths),), name="_presence")
    model = keras.Model(encoded + [presence], late_outputs(spec, pre, encoded, presence))
    batch = [RNG.normal(size=(4, w)).astype("float32") for w in widths]
    mask = np.array([[1, 1, 1, 1, 1], [1, 0, 1, 1, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0]], "float32")
    return model, batch, mask


def test_late_outputs_weighted_forced_to_one_input_equals_its_aux_head(demo_manifest):
    spec = load_spec(_late_spec(demo_manifest, combine="weighted", aux_loss_weight=0.5))
    model, batch, mask = _graph(spec)
    names = list(spec.inputs)
    assert set(model.output_names) == {"label"} | {f"label__{n}" for n in names} == {"label"} | set(aux_outputs(spec))
    logits = np.zeros(5, "float32")
    logits[3] = 60.0   # "reading"
    model.get_layer("label").modality_logits.assign(logits)
    out = model.predict(batch + [np.ones_like(mask)], verbose=0)
    np.testing.assert_allclose(out["label"], out["label__reading"], atol=1e-5)
    out = model.predict(batch + [mask], verbose=0)
    np.testing.assert_allclose(out["label"][2], out["label__reading"][2], atol=1e-5)   # only reading present
    np.testing.assert_allclose(out["label"][3], np.full(8, 1 / 8), atol=1e-6)          # nothing present
    # A missing input's encoder output does not change its row; a present one does (equal weights).
    model.get_layer("label").modality_logits.assign(np.zeros(5, "float32"))
    out = model.predict(batch + [mask], verbose=0)
    changed = [b.copy() for b in batch]
    changed[1][1] += 10.0   # sound, missing in row 1
    changed[1][0] += 10.0   # sound, present in row 0
    again = model.predict(changed + [mask], verbose=0)["label"]
    np.testing.assert_allclose(again[1:], out["label"][1:], atol=1e-6)
    assert not np.allclose(again[0], out["label"][0])


def test_late_outputs_binary_and_regression(demo_manifest):
    d = _late_spec(demo_manifest, combine="mean")
    d["inputs"] = {k: d["inputs"][k] for k in ("caption", "reading")}
    d["outputs"] = {"odd": {"type": "binary", "column": "label"}, "size": {"type": "regression", "column": "reading"}}
    spec = load_spec(d)
    model, batch, mask = _graph(spec)
    mask = mask[:, [0, 1]]
    out = model.predict(batch + [mask], verbose=0)
    assert out["odd"].shape == (4, 1) and out["size"].shape == (4, 1) and set(out) == {"odd", "size"}
    assert np.all((out["odd"] > 0) & (out["odd"] < 1))
    heads = [keras.Model(model.inputs, model.get_layer(f"late_size_{n}_logits").output) for n in spec.inputs]
    values = [h.predict(batch + [mask], verbose=0) for h in heads]
    expected = (values[0] * mask[:, :1] + values[1] * mask[:, 1:]) / np.maximum(mask.sum(1, keepdims=True), 1)
    np.testing.assert_allclose(out["size"], expected, atol=1e-5)


def test_save_and_load_keep_predictions(demo_manifest, tmp_path):
    spec = load_spec(_late_spec(demo_manifest, combine="stacking", aux_loss_weight=0.2))
    model, batch, mask = _graph(spec)
    before = model.predict(batch + [mask], verbose=0)
    model.save(tmp_path / "late.keras")
    again = keras.saving.load_model(tmp_path / "late.keras")
    after = again.predict(batch + [mask], verbose=0)
    assert set(after) == set(before)
    for k in before:
        np.testing.assert_allclose(after[k], before[k], atol=1e-6)
    assert type(again.get_layer("label")) is LateCombine and again.get_layer("label").combine == "stacking"


def test_spec_options_are_checked(demo_manifest):
    with pytest.raises(SpecError, match="fusion.pooling"):
        load_spec(_late_spec(demo_manifest, pooling="max"))
    with pytest.raises(SpecError, match=r"fusion.combine: 'median' is not one of mean, weighted, stacking"):
        load_spec(_late_spec(demo_manifest, combine="median"))
    with pytest.raises(SpecError, match=r"fusion.aux_loss_weight: -1"):
        load_spec(_late_spec(demo_manifest, aux_loss_weight=-1))
    assert aux_outputs(load_spec(_late_spec(demo_manifest, aux_loss_weight=0))) == {}


def test_aux_targets_are_copies_of_the_output_target(demo_manifest):
    spec = load_spec(_late_spec(demo_manifest, aux_loss_weight=0.3))
    ds = tf.data.Dataset.from_tensors(({"x": [1.0]}, {"label": [3]}, {"label": [0.5]}))
    x, y, w = next(iter(add_aux_targets(spec, ds)))
    assert set(y) == {"label"} | set(aux_outputs(spec)) and all(int(v[0]) == 3 for v in y.values())
    assert float(w["label__picture"][0]) == 0.5


# ---- end to end: train, export without the aux outputs ------------------------------------------------------------

def test_late_fusion_trains_and_exports_without_aux_outputs(demo_manifest, tmp_path):
    from mmkeras import Preprocessor, build_model, export_saved_model, load_splits, make_dataset
    from mmkeras.demo.run import raw_batch
    from mmkeras.training import fit

    d = _late_spec(demo_manifest, combine="weighted", aux_loss_weight=0.5)
    d["inputs"] = {k: d["inputs"][k] for k in ("reading", "colour")}   # two inputs: quick to compile
    spec = load_spec(d)
    splits = load_splits(spec)
    pre = Preprocessor(spec).adapt(splits["train"])
    model = build_model(spec, pre)
    assert model.jit_compile is True and "label__colour" in model.output_names
    history = fit(model, spec, make_dataset(spec, splits["train"], pre, training=True), verbose=False)
    assert "label__colour_loss" in history.history and np.isfinite(history.history["loss"][0])
    path = export_saved_model(model, pre, str(tmp_path / "export"))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    assert set(serve.structured_outputs) == {"label_probabilities", "label_label"}
    test = splits["test"]
    raw = raw_batch(spec, test, os.path.dirname(d["data"]["path"]))
    raw["colour"][0] = ""   # a missing input at serving time
    served = serve(**{k: tf.constant(v) for k, v in raw.items()})["label_probabilities"].numpy()
    features = pre({k: tf.constant(v) for k, v in raw.items()})
    np.testing.assert_allclose(served, model(features, training=False)["label"].numpy(), atol=1e-5)
    # The importance table reports the learned late-fusion weights (softmax of the combine logits).
    table = mmkeras.modality_importance(model, pre, test)
    logits = model.get_layer("label").modality_logits.numpy()
    np.testing.assert_allclose(table["fusion_weight"], np.exp(logits) / np.exp(logits).sum(), atol=1e-5)


# ---- cross-validation ---------------------------------------------------------------------------------------------

def test_fold_assignment_is_stratified_disjoint_and_seeded():
    labels = np.array(list("aaaaabbbbbbbccc") * 3)
    folds = fold_assignment(labels, 4, seed=1)
    assert folds.shape == labels.shape and set(folds) == {0, 1, 2, 3}   # every row in exactly one fold
    for cls in "abc":
        counts = np.bincount(folds[labels == cls], minlength=4)
        assert counts.max() - counts.min() <= 1
    assert np.bincount(folds).max() - np.bincount(folds).min() <= 1
    np.testing.assert_array_equal(folds, fold_assignment(labels, 4, seed=1))
    assert not np.array_equal(folds, fold_assignment(labels, 4, seed=2))
    plain = fold_assignment(None, 3, seed=0, n=10)
    assert sorted(np.bincount(plain)) == [3, 3, 4]
    with pytest.raises(ValueError, match="folds"):
        fold_assignment(labels, 1)


def test_summarize_mean_and_std_of_every_float():
    s = summarize([{"y": {"mae": 1.0, "count": 3, "per_class": {"a": {"f1": 0.2}}}},
                   {"y": {"mae": 3.0, "count": 5, "per_class": {"a": {"f1": 0.4}}}}])["y"]
    assert s["mae"] == {"mean": 2.0, "std": 1.0, "folds": 2} and "count" not in s
    assert s["per_class.a.f1"]["mean"] == pytest.approx(0.3)


def test_cv_command_two_folds(demo_manifest, tmp_path, capsys):
    d = tiny_spec_dict(demo_manifest, jit_compile=False)  # fast: XLA is covered by the late-fusion test
    d["inputs"] = {k: d["inputs"][k] for k in ("reading", "colour")}
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(d))
    out = tmp_path / "cv"
    assert main(["cv", str(spec_path), "--folds", "2", "--out", str(out), "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "2-fold cross-validation" in printed and "accuracy" in printed and "±" in printed
    result = json.load(open(out / "cv.json"))
    splits = load_spec(str(spec_path))
    from mmkeras.data import load_splits

    s = load_splits(splits)
    assert result["rows"] == len(s["train"]) + len(s["validation"])          # the test split is not used
    assert [f["fold"] for f in result["per_fold"]] == [0, 1]
    assert sum(f["test_rows"] for f in result["per_fold"]) == result["rows"]  # disjoint, covering
    for f in result["per_fold"]:
        assert f["train_rows"] + f["test_rows"] == result["rows"]
        assert 0.0 <= f["metrics"]["label"]["accuracy"] <= 1.0
    a, b = (f["held_out_classes"] for f in result["per_fold"])
    assert set(a) == set(b) and all(abs(a[c] - b[c]) <= 1 for c in a)         # stratified
    accs = [f["metrics"]["label"]["accuracy"] for f in result["per_fold"]]
    assert result["summary"]["label"]["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert result["summary"]["label"]["accuracy"]["std"] == pytest.approx(np.std(accs))
    # An existing cv.json is kept unless --overwrite; a bad --folds is one line and exit 2.
    assert main(["cv", str(spec_path), "--folds", "2", "--out", str(out)]) == 2
    assert main(["cv", str(spec_path), "--folds", "1", "--out", str(tmp_path / "other")]) == 2
    assert "--folds" in capsys.readouterr().err
