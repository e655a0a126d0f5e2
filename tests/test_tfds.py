"""TensorFlow Datasets both ways (issue 12), all offline: no test opens a network connection.

Catalog datasets (image: mnist, audio: speech_commands, text: imdb_reviews) come from
`tfds.testing.mock_data` (the installed tensorflow-datasets ships no metadata files, so the
mock uses the builders' code: features and class names are real, splits are not); a folder data
set is written with `mmkeras tfds build` from generated demo files and read back with TFDS.
"""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
import yaml

from mmkeras.cli import main
from mmkeras.data.presence import PRESENCE
from mmkeras.data.sources import source_for
from mmkeras.data.sources.tfds import TfdsSource, build_tfds_dataset, tfds_spec_dict
from mmkeras.distribute import plan_for
from mmkeras.distribute.cluster import Cluster
from mmkeras.runs.distributed import dataset_for, source_for_plan, train_steps
from mmkeras.demo.run import demo_test_batch, prepare_demo_data
from mmkeras.errors import DataError, SpecError
from mmkeras.runs.lifecycle import evaluate_splits, train_model
from mmkeras.runs.run_dir import load_run
from mmkeras.specs import load_spec
from mmkeras.testing import tiny_demo

SMALL_CNN = {"type": "cnn", "filters": [4], "dense_units": 8}
CATALOG = {  # catalog dataset -> the input the test spec reads from it
    "mnist": {"digit": {"type": "image", "column": "image", "height": 28, "width": 28, "channels": 1,
                        "encoder": SMALL_CNN}},
    "speech_commands": {"speech": {"type": "audio", "column": "audio", "sample_rate": 16000, "duration": 0.064,
                                   "n_mels": 16, "encoder": SMALL_CNN}},
    "imdb_reviews": {"review": {"type": "text", "column": "text", "max_tokens": 50, "sequence_length": 8,
                                "encoder": {"type": "bag_of_embeddings", "embedding_dim": 4}}},
}


@pytest.fixture(scope="module", autouse=True)
def no_network():
    """Every socket connection of this module's tests (and fixtures) is refused and recorded; none may happen."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] or kwargs)
        raise OSError("tests/test_tfds.py: no network")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "create_connection", refuse)
        yield attempts
    assert attempts == [], f"network connections were attempted: {attempts}"


def _write(path, spec):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(spec, f, sort_keys=False)  # input order is model order
    return str(path)


def catalog_spec(name, data_dir):
    return {"spec_version": 1, "name": f"{name}_mock",
            "data": {"tfds": {"name": name, "data_dir": str(data_dir),
                              "split": {"train": "train", "validation": 0.25, "test": "test"}}},
            "inputs": CATALOG[name], "fusion": {"type": "concat", "hidden_units": [8]},
            "outputs": {"label": {"type": "classification", "column": "label"}},
            "training": {"epochs": 1, "batch_size": 4, "jit_compile": False, "seed": 0}}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny demo data set (CSV + PNG/WAV files) built as the TFDS dataset `tiny_demo` (2 files per split)."""
    tmp = tmp_path_factory.mktemp("tfds_build")
    manifest, spec = tiny_demo(str(tmp), n=48, deterministic=True, jit_compile=False, batch_size=8)
    spec_file = _write(tmp / "demo.yaml", spec)
    data_dir = str(tmp / "tfds_data")
    tfds_file = str(tmp / "demo_tfds.yaml")
    assert main(["tfds", "build", spec_file, "--data-dir", data_dir, "--name", "tiny_demo", "--shards", "2",
                 "--spec-out", tfds_file]) == 0
    return {"spec": spec, "spec_file": spec_file, "data_dir": data_dir, "tfds_spec": tfds_spec_dict(spec, "tiny_demo", data_dir),
            "tfds_file": tfds_file, "tmp": tmp, "manifest": manifest}


# -- the spec ------------------------------------------------------------------------------
@pytest.mark.parametrize("data, message", [
    ({"tfds": {"name": "mnist", "splits": {}}}, r"data\.tfds\.splits: unknown key\. Allowed keys: data_dir, download, name, split"),
    ({"tfds": {"data_dir": "x"}}, r"data\.tfds\.name: is required"),
    ({"tfds": {"name": "mnist", "split": {"validation": 1.5}}}, r"data\.tfds\.split\.validation: 1\.5 is not a TFDS split .* or a fraction between 0 and 1"),
    ({"tfds": {"name": "mnist", "download": "no"}}, r"data\.tfds\.download: 'no' is not true or false"),
    ({"path": "t.csv", "tfds": {"name": "mnist"}}, r"data\.path: is not used with data\.tfds"),
    ({"split": {"column": "s"}, "tfds": {"name": "mnist"}}, r"data\.split: is not used with data\.tfds.*data\.tfds\.split"),
])
def test_spec_errors_name_the_key_path_and_what_is_allowed(data, message):
    raw = {**catalog_spec("mnist", "."), "data": data}
    with pytest.raises(SpecError, match=message):
        load_spec(raw)


def test_spec_round_trips_and_data_dir_is_relative_to_the_spec_file(tmp_path):
    path = _write(tmp_path / "s.yaml", {**catalog_spec("mnist", "tfds_data")})
    spec = load_spec(path)
    assert spec.data.tfds.data_dir == str(tmp_path / "tfds_data") and spec.data.tfds.split.validation == 0.25
    assert load_spec(spec.to_dict()).data == spec.data
    assert spec.with_data(path=str(tmp_path / "t.csv")).data.tfds is None  # --data TABLE replaces the TFDS source


# -- catalog datasets, offline ---------------------------------------------------------------------------
def test_a_missing_dataset_says_where_it_looked_and_how_to_prepare_it(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    spec_file = _write(tmp_path / "mnist.yaml", catalog_spec("mnist", empty))
    start = time.time()
    assert main(["train", spec_file, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "'mnist' is not prepared in" in err and str(empty) in err and "`tfds build mnist --data_dir DIR`" in err
    assert "download is false" in err and time.time() - start < 60 and not (tmp_path / "run").exists()
    with pytest.raises(DataError, match=r"'no_such_dataset' is not prepared.*mmkeras tfds build SPEC --data-dir DIR"):
        source_for({**catalog_spec("mnist", empty), "data": {"tfds": {"name": "no_such_dataset", "data_dir": str(empty)}}})


def test_a_feature_that_does_not_fit_the_input_is_a_spec_error(tmp_path):
    spec = catalog_spec("mnist", tmp_path)
    with tfds.testing.mock_data(num_examples=4):
        spec["inputs"] = {"digit": {"type": "text", "column": "image"}}
        with pytest.raises(SpecError, match=r"inputs\.digit\.column: the TFDS feature 'image' of mnist is "
                                            r"Image\(shape=\(28, 28, 1\), dtype=uint8\), not Text or a string scalar "
                                            r".*Features of mnist: image, label"):
            source_for(spec)
        spec["inputs"] = {"digit": {"type": "image", "column": "picture", "height": 8, "width": 8}}
        with pytest.raises(SpecError, match=r"inputs\.digit\.column: 'picture' is not a feature of mnist\. "
                                            r"Features of mnist: image, label"):
            source_for(spec)


def _model_input_gaps(source, pre):
    """Largest |difference| per model input between the TFDS pipeline and the export's preprocessing of bytes."""
    raw, _ = source.serving_batch("test")  # PNG bytes as stored, WAV bytes of the int16 samples, strings, floats
    via_export = pre(raw)  # what the SavedModel runs on raw inputs
    count = len(next(iter(raw.values())))
    via_tfds = next(iter(source.dataset("test", pre, with_targets=False, batch_size=count)))
    return {name: float(np.abs(np.asarray(via_export[name], np.float64) - np.asarray(via_tfds[name], np.float64)).max())
            for name in list(pre.features) + [PRESENCE]}


def _served_matches_in_memory(run_dir, source, pre, model):
    """Serves raw TFDS test examples (PNG / WAV bytes, strings) with the export; returns the largest gap."""
    inputs, _ = source.serving_batch("test", 8)
    serve = tf.saved_model.load(os.path.join(run_dir, "saved_model")).signatures["serving_default"]
    specs = serve.structured_input_signature[1]
    served = serve(**{k: tf.constant(v, specs[k].dtype) for k, v in inputs.items()})["label_probabilities"]
    in_memory = model.predict(source.dataset("test", pre, with_targets=False, batch_size=8), verbose=0)["label"]
    return float(np.abs(served.numpy() - in_memory[:len(served)]).max())


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_dataset_trains_evaluates_and_exports(name, tmp_path):
    spec_file = _write(tmp_path / f"{name}.yaml", catalog_spec(name, tmp_path))
    run = str(tmp_path / "run")
    with tfds.testing.mock_data(num_examples=16):
        assert main(["train", spec_file, "--out", run]) == 0
        with open(os.path.join(run, "metrics.json")) as f:
            metrics = json.load(f)
        assert 0 < metrics["validation"]["label"]["count"] < 16 and metrics["test"]["label"]["count"] == 16
        if name == "mnist":  # `mmkeras evaluate RUN_DIR` reads the TFDS splits again
            assert main(["evaluate", run]) == 0 and os.path.isfile(os.path.join(run, "evaluation.json"))
        spec, pre, model = load_run(run)
        source = source_for(spec)
        assert pre.targets["label"].classes == source.builder.info.features["label"].names  # the builder's order
        gaps = _model_input_gaps(source, pre)
        assert max(gaps.values()) <= 1e-6, gaps  # decoded TFDS tensors vs the bytes the export takes
        if name == "mnist":  # the export serves PNG bytes (audio and text: the round trip below)
            assert _served_matches_in_memory(run, source, pre, model) < 1e-5


# -- mmkeras data sets as TFDS datasets ----------------------------------------------------------
def test_built_dataset_loads_with_tfds_alone(built):
    script = (f"import sys, tensorflow_datasets as tfds\n"
              f"builder = tfds.builder('tiny_demo', data_dir={built['data_dir']!r})\n"
              f"ds = tfds.load('tiny_demo', data_dir={built['data_dir']!r}, split='test')\n"
              f"ex = next(iter(ds))\n"
              f"print(builder.info.version, sorted(builder.info.splits), sorted(ex), ex['picture'].shape,"
              f" builder.info.features['sound'].sample_rate, builder.info.features['label'].num_classes)\n"
              f"assert 'mmkeras' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == ("1.0.0 ['test', 'train', 'validation'] ['caption', 'colour', 'label', "
                                             "'picture', 'reading', 'sound'] (32, 32, 3) 8000 8")


def test_build_never_overwrites_without_overwrite(built, capsys):
    args = ["tfds", "build", built["spec_file"], "--data-dir", built["data_dir"], "--name", "tiny_demo"]
    assert main(args) == 2
    assert "already exists; pass overwrite=True (--overwrite)" in capsys.readouterr().err
    assert main(["tfds", "build", built["spec_file"], "--data-dir", built["data_dir"], "--name", "Tiny-Demo"]) == 2
    assert "must be lowercase letters" in capsys.readouterr().err


def test_round_trip_trains_like_the_table_and_the_export_serves_bytes(built, tmp_path, capsys):
    table = train_model(built["spec_file"], verbose=False)
    table_accuracy = evaluate_splits(table, ("test",))["test"]["label"]["accuracy"]
    run = str(tmp_path / "run")
    assert main(["train", built["tfds_file"], "--out", run]) == 0
    with open(os.path.join(run, "metrics.json")) as f:
        tfds_accuracy = json.load(f)["test"]["label"]["accuracy"]
    assert abs(tfds_accuracy - table_accuracy) <= 0.01
    history = pd.read_csv(os.path.join(run, "history.csv"))  # the same examples in the same order: the same fit
    np.testing.assert_allclose(history["loss"], table.history.history["loss"], rtol=1e-4)
    spec, pre, model = load_run(run)
    assert pre.get_state() == table.preprocessor.get_state()  # one streaming pass adapts what the table adapts
    source = source_for(spec)
    gaps = _model_input_gaps(source, pre)
    assert max(gaps.values()) <= 1e-6, gaps  # images and clips: TFDS tensors == their encoded bytes, as model input
    assert _served_matches_in_memory(run, source, pre, model) < 1e-5
    capsys.readouterr()
    # importance and cv work on rows of a table: they say what this spec reads instead of failing in the pipeline
    assert main(["importance", run]) == 2
    assert "not the TFDS dataset tiny_demo; pass --data TABLE" in capsys.readouterr().err
    columns = {i["column"]: n for n, i in {**built["spec"]["inputs"], **built["spec"]["outputs"]}.items()}
    renamed = os.path.join(os.path.dirname(built["manifest"]), "by_name.csv")  # a table with the TFDS spec's columns
    pd.read_csv(built["manifest"]).rename(columns=columns).query("split == 'test'").to_csv(renamed, index=False)
    assert main(["importance", run, "--data", renamed, "--out", str(tmp_path / "imp.csv")]) == 0
    assert set(pd.read_csv(tmp_path / "imp.csv")["input"]) == set(spec.inputs)
    assert main(["cv", built["tfds_file"], "--folds", "2", "--out", str(tmp_path / "cv")]) == 2
    assert "this spec reads the TFDS dataset tiny_demo: point data.path at a table" in capsys.readouterr().err


def test_validation_fraction_is_carved_stratified_out_of_train(built):
    spec = {**built["tfds_spec"], "data": {"tfds": {**built["tfds_spec"]["data"]["tfds"],
                                                    "split": {"train": "train", "validation": 0.25}}}}
    source = TfdsSource(spec)
    sizes = source.sizes()
    assert sizes["train"] + sizes["validation"] == TfdsSource(built["tfds_spec"]).sizes()["train"]

    def ids_and_labels(split):
        rows = list(source.read(split, decoders=tfds.decode.PartialDecoding({"label": True})).as_numpy_iterator())
        return {r["tfds_id"] for r in rows}, {int(r["label"]) for r in rows}

    (train_ids, _), (val_ids, val_labels) = ids_and_labels("train"), ids_and_labels("validation")
    assert len(val_ids) == sizes["validation"] and not train_ids & val_ids
    assert val_labels == set(range(8))  # every class in the carved share


def test_each_worker_reads_its_own_files(built):
    def ids(worker):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker)
        source = TfdsSource(built["tfds_spec"], input_context=context)
        return [r["tfds_id"] for r in source.read("train", training=True).as_numpy_iterator()]

    first, second = ids(0), ids(1)
    assert first and second and not set(first) & set(second)
    assert len(first) + len(second) == TfdsSource(built["tfds_spec"]).sizes()["train"]
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1)
    whole = TfdsSource(built["tfds_spec"], input_context=context)  # adapting and evaluating read every example
    assert len(list(whole.read("train").as_numpy_iterator())) == len(first) + len(second)
    assert whole.files("train") == 2


def test_a_multi_worker_run_reads_its_share_of_the_train_files(built):
    """What `train_model` does with a TFDS spec on worker 1 of 2 (the 2-process runs are in test_distribute_runs)."""
    cluster = Cluster((("worker:0", "127.0.0.1:2222"), ("worker:1", "127.0.0.1:2223")), "worker", 1)
    plan = dataclasses.replace(plan_for(built["tfds_spec"]), kind="multi_worker", cluster=cluster)
    source = source_for_plan(built["tfds_spec"], plan)
    context = source.input_context
    assert (context.num_input_pipelines, context.input_pipeline_id) == (2, 1)
    ds = dataset_for(tf.data.Dataset.range(4).batch(2), plan, source, "train")
    assert ds.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.OFF
    assert train_steps(source, plan) is None  # each worker counts its own batches
    three = dataclasses.replace(plan, cluster=Cluster(cluster.tasks + (("worker:2", "127.0.0.1:2224"),), "worker", 1))
    with pytest.raises(DataError, match="the train split of the TFDS dataset tiny_demo has 2 files for 3 workers"):
        source_for_plan(built["tfds_spec"], three)


def test_demo_source_tfds_trains_from_tfds_and_serves_its_bytes(tmp_path):
    """`mmkeras demo --source tfds`: what differs from the table demo (its training, export and serving are
    `train_run` and `serve_in_subprocess`, as tested above and in the demo's doctest)."""
    lines = []
    spec_dict = prepare_demo_data(str(tmp_path), 24, source="tfds", say=lines.append)
    assert "TFDS dataset demo:1.0.0" in lines[-1]
    source = source_for(spec_dict)
    assert isinstance(source, TfdsSource) and source.sizes() == source_for(prepare_demo_data(
        str(tmp_path / "table"), 24, say=lines.append)).sizes()
    inputs, labels = demo_test_batch(source)
    assert inputs["picture"][0][:4] == b"\x89PNG" and inputs["sound"][0][:4] == b"RIFF"
    assert len(labels) == source.sizes()["test"] and set(labels) <= set(source.output_features["label"].names)


def test_video_clips_go_through_tfds_as_they_go_through_files(tmp_path):
    rng, rows = np.random.default_rng(0), []
    for c in range(6):  # clips of 3 to 5 frames of different sizes
        (tmp_path / f"clip{c}").mkdir()
        for k in range(3 + c % 3):
            frame = rng.integers(0, 255, [6 + c, 5 + k, 3]).astype(np.uint8)
            tf.io.write_file(str(tmp_path / f"clip{c}" / f"frame_{k}.png"), tf.io.encode_png(frame))
        rows.append({"clip": f"clip{c}", "label": "ab"[c % 2], "split": "train" if c < 4 else "test"})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    spec = {"spec_version": 1, "name": "clips",
            "data": {"path": str(tmp_path / "manifest.csv"), "split": {"column": "split", "train": "train", "test": "test"}},
            "inputs": {"clip": {"type": "video", "column": "clip", "frames": 4, "height": 8, "width": 8}},
            "outputs": {"label": {"type": "classification", "column": "label"}}}
    build_tfds_dataset(spec, str(tmp_path / "tfds"), name="clips", verbose=False)
    source = TfdsSource(tfds_spec_dict(spec, "clips", str(tmp_path / "tfds")))
    assert type(source.input_features["clip"]).__name__ == "Video" and source.sizes() == {"train": 4, "test": 2}
    gaps = _model_input_gaps(source, source.preprocessor())  # sampled TFDS frames vs `encode_frames` clips
    assert max(gaps.values()) <= 1e-6, gaps
