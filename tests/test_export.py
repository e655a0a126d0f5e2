"""Export contract: named raw inputs, named outputs, served without mmkeras, 1e-5 parity."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.demo.run import raw_batch
from mmkeras.export.serving import serve_in_subprocess
from mmkeras.runs import load_run



def test_signature_matches_the_contract(trained_run):
    run_dir, _ = trained_run
    serve = tf.saved_model.load(os.path.join(run_dir, "saved_model")).signatures["serving_default"]
    inputs = serve.structured_input_signature[1]
    assert {n: (s.dtype, s.shape.as_list()) for n, s in inputs.items()} == {
        "picture": (tf.string, [None]), "sound": (tf.string, [None]), "caption": (tf.string, [None]),
        "reading": (tf.float32, [None]), "colour": (tf.string, [None])}
    outputs = serve.structured_outputs
    assert outputs["label_probabilities"].dtype == tf.float32
    assert outputs["label_probabilities"].shape.as_list() == [None, 8]
    assert outputs["label_label"].dtype == tf.string


def test_served_in_a_process_without_mmkeras_equals_in_memory(trained_run, monkeypatch):
    run_dir, _ = trained_run
    spec, pre, model = load_run(run_dir)
    df = pd.read_csv(spec.data.path)
    df = df[df["split"] == "test"].reset_index(drop=True)
    monkeypatch.chdir(os.path.dirname(run_dir))  # a relative path, as `mmkeras demo --out demo` gives it
    saved_model = os.path.join(os.path.basename(run_dir), "saved_model")
    served = serve_in_subprocess(saved_model, raw_batch(spec, df, spec.data.root))
    expected = model.predict(mmkeras.make_dataset(spec, df, pre, with_targets=False), verbose=0)["label"]
    np.testing.assert_allclose(served["label_probabilities"], expected, atol=1e-5)
    classes = np.array(pre.targets["label"].classes)
    assert [v.decode() for v in served["label_label"]] == list(classes[expected.argmax(1)])


def test_missing_numeric_and_unseen_category_are_served(trained_run):
    run_dir, _ = trained_run
    spec, _, _ = load_run(run_dir)
    df = pd.read_csv(spec.data.path).head(2)
    batch = raw_batch(spec, df, spec.data.root)
    batch["reading"] = np.array([np.nan, 1.0], np.float32)
    batch["colour"] = np.array(["never-seen", ""], object)
    batch["caption"] = np.array(["", "zebra zebra"], object)
    serve = tf.saved_model.load(os.path.join(run_dir, "saved_model")).signatures["serving_default"]
    out = serve(**{k: tf.constant(v) for k, v in batch.items()})
    probs = out["label_probabilities"].numpy()
    assert np.all(np.isfinite(probs)) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_export_never_overwrites_and_is_atomic(trained_run, tmp_path):
    run_dir, _ = trained_run
    _, pre, model = load_run(run_dir)
    target = tmp_path / "export"
    mmkeras.export_saved_model(model, pre, str(target))
    stamp = os.path.getmtime(target / "saved_model.pb")
    with pytest.raises(FileExistsError, match="already exists"):
        mmkeras.export_saved_model(model, pre, str(target))
    assert os.path.getmtime(target / "saved_model.pb") == stamp
    mmkeras.export_saved_model(model, pre, str(target), overwrite=True)
    meta = json.loads((target / "assets.extra" / "mmkeras.json").read_text())
    assert meta["inputs"]["picture"] == {"type": "image", "column": "image_path"}
    assert sorted(os.listdir(tmp_path)) == ["export"]  # no temporary folder left behind


def test_failed_export_leaves_nothing(trained_run, tmp_path, monkeypatch):
    run_dir, _ = trained_run
    _, pre, model = load_run(run_dir)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    # Fails after the SavedModel is written, while the metadata is being added.
    monkeypatch.setattr("mmkeras.export.archive.json.dump", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        mmkeras.export_saved_model(model, pre, str(tmp_path / "export"))
    assert os.listdir(tmp_path) == []
