"""`mmkeras convert`: TFRecord shards written from a spec, read back exactly, trained from."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from helpers import tiny_spec_dict
from mmkeras.cli import main
from mmkeras.data import DataError, Preprocessor, load_splits, make_dataset
from mmkeras.data.sources.shards.read import parse_fn, shard_dataset, split_files
from mmkeras.data.sources.shards.format import INDEX_FILE, is_shard_folder, read_index
from mmkeras.data.sources.shards.write import convert_to_shards, serialize_example
from mmkeras.specs import load_spec

SHARDS = 3


@pytest.fixture(scope="module")
def converted(tmp_path_factory, demo_manifest):
    """(shard folder, spec dict, index) of the demo data (no audio) in 3 shards per split."""
    folder = str(tmp_path_factory.mktemp("shards") / "demo")
    spec = tiny_spec_dict(demo_manifest)
    del spec["inputs"]["sound"]  # image, text, numeric, categorical: keeps the file quick
    index = convert_to_shards(spec, folder, SHARDS, progress=False)
    return folder, spec, index


def _batches(ds):
    return list(ds.as_numpy_iterator())


def test_values_round_trip_bit_for_bit():
    flat = {"0/data": np.array([b"RIFF\x00\x00", b"", b"\x00x\x00"], dtype=object),
            "0/n": np.array([[1.5, np.nan], [-0.0, 3e-39], [np.inf, 7.0]], np.float32),
            "1/k": np.array([-(2 ** 40), 0, 2 ** 40], np.int64)}
    index = {"structure": [{"data": "0/data", "n": "0/n"}, {"k": "1/k"}],
             "features": {"0/data": {"dtype": "string", "shape": []}, "0/n": {"dtype": "float32", "shape": [2]},
                          "1/k": {"dtype": "int64", "shape": []}}}
    x, y = parse_fn(index)(tf.constant([serialize_example(flat, i) for i in range(3)]))
    assert x["data"].numpy().tolist() == flat["0/data"].tolist()  # trailing NUL bytes kept (WAV data)
    np.testing.assert_array_equal(x["n"].numpy().view(np.uint32), flat["0/n"].view(np.uint32))
    np.testing.assert_array_equal(y["k"].numpy(), flat["1/k"])


def test_index_counts_and_files(converted):
    folder, spec, index = converted
    splits = load_splits(load_spec(spec))
    assert is_shard_folder(folder) and read_index(folder) == json.load(open(os.path.join(folder, INDEX_FILE)))
    assert {k: v["count"] for k, v in index["splits"].items()} == {k: len(v) for k, v in splits.items()}
    for split, info in index["splits"].items():
        assert info["files"] == [f"{split}-{k:05d}-of-00003.tfrecord" for k in range(SHARDS)]
        # contiguous blocks of rows: the file sizes in records add up to the split
        counts = [sum(1 for _ in tf.data.TFRecordDataset(os.path.join(folder, f))) for f in info["files"]]
        assert sum(counts) == info["count"] and max(counts) - min(counts) <= 1
    assert os.path.isfile(os.path.join(folder, "preprocessor", "preprocessor.json"))
    assert index["features"]["0/picture"] == {"dtype": "float32", "shape": [32, 32, 3]}
    assert index["features"]["1/label"] == {"dtype": "int32", "shape": []}
    assert not [n for n in os.listdir(os.path.dirname(folder)) if n.startswith(".")]  # no temporary left


def test_parsed_examples_equal_make_dataset(converted):
    folder, spec, _ = converted
    spec = load_spec(spec)
    splits = load_splits(spec)
    pre = Preprocessor.load(os.path.join(folder, "preprocessor"), spec=spec)  # adapted on train by convert
    for split in ("train", "test"):
        expected = _batches(make_dataset(spec, splits[split], pre, batch_size=16))
        got = _batches(shard_dataset(folder, split, batch_size=16))
        assert len(got) == len(expected)
        for (x1, y1), (x2, y2) in zip(expected, got):
            assert set(x1) == set(x2) and set(y1) == set(y2)
            for part1, part2 in ((x1, x2), (y1, y2)):
                for key in part1:
                    assert part2[key].dtype == part1[key].dtype, key
                    np.testing.assert_array_equal(part2[key], part1[key], err_msg=key)
    inputs_only = next(iter(shard_dataset(folder, "test", batch_size=4, with_targets=False)))
    assert isinstance(inputs_only, dict) and "picture" in inputs_only


def test_training_reads_shuffled_static_batches(converted):
    folder, _, index = converted
    count = index["splits"]["train"]["count"]
    batches = _batches(shard_dataset(folder, "train", batch_size=16, training=True, seed=1))
    assert len(batches) == count // 16
    assert all(x["picture"].shape == (16, 32, 32, 3) for x, _ in batches)
    in_order = np.concatenate([x["caption"] for x, _ in _batches(shard_dataset(folder, "train", batch_size=16))])
    shuffled = np.concatenate([x["caption"] for x, _ in batches])
    assert not np.array_equal(shuffled, in_order[:len(shuffled)])


def test_worker_shards_partition_the_files(converted):
    folder, _, index = converted
    everything = split_files(folder, "train")
    parts = [split_files(folder, "train", num_shards=2, shard_index=i) for i in range(2)]
    assert sorted(parts[0] + parts[1]) == sorted(everything) and not set(parts[0]) & set(parts[1])
    rows = []
    for i in range(SHARDS):
        for x, _ in _batches(shard_dataset(folder, "train", batch_size=8, num_shards=SHARDS, shard_index=i)):
            rows.extend(map(tuple, x["caption"].tolist()))
    full = [tuple(r) for x, _ in _batches(shard_dataset(folder, "train", batch_size=8)) for r in x["caption"].tolist()]
    assert sorted(rows) == sorted(full) and len(rows) == index["splits"]["train"]["count"]
    with pytest.raises(DataError, match="only 3 files"):
        split_files(folder, "train", num_shards=4, shard_index=0)
    with pytest.raises(ValueError, match="shard_index"):
        split_files(folder, "train", num_shards=2, shard_index=2)


def test_train_run_from_shard_folder(converted, tmp_path):
    from mmkeras.demo.run import raw_batch
    from mmkeras.runs.lifecycle import evaluate_run, train_run
    from mmkeras.runs.run_dir import load_run

    folder, spec_dict, _ = converted
    table_spec = load_spec(spec_dict)
    spec_dict = dict(spec_dict, data={"path": folder})
    run_dir = str(tmp_path / "run")
    metrics = train_run(spec_dict, run_dir, verbose=False)
    assert set(metrics) == {"validation", "test"}
    assert metrics["test"]["label"]["count"] == len(load_splits(table_spec)["test"])
    assert os.path.isfile(os.path.join(run_dir, "saved_model", "saved_model.pb"))
    # `mmkeras evaluate RUN_DIR` reads the shards again (the run's source is the shard folder)
    spec, pre, model = load_run(run_dir)
    again, path = evaluate_run(run_dir)
    assert path == os.path.join(run_dir, "evaluation.json") and os.path.isfile(path)
    assert again["test"]["label"]["accuracy"] == pytest.approx(metrics["test"]["label"]["accuracy"])
    # the raw-input export (saved preprocessor) agrees with the model on the stored tensors
    test = load_splits(table_spec)["test"]
    inputs = next(iter(shard_dataset(folder, "test", batch_size=len(test), with_targets=False)))
    stored = model.predict_on_batch(inputs)["label"]
    serve = tf.saved_model.load(os.path.join(run_dir, "saved_model")).signatures["serving_default"]
    raw = raw_batch(table_spec, test, table_spec.data.root)
    served = serve(**{k: tf.constant(v) for k, v in raw.items()})["label_probabilities"].numpy()
    np.testing.assert_allclose(served, stored, atol=1e-4)


def test_spec_must_match_the_shards(converted, tmp_path):
    from mmkeras.runs.lifecycle import train_run

    folder, spec_dict, _ = converted
    other = json.loads(json.dumps(spec_dict))
    other["data"] = {"path": folder}
    other["inputs"]["picture"]["height"] = 24
    with pytest.raises(DataError, match=r"inputs\.picture\.height: 24 in the spec, 32 in the shards"):
        train_run(other, str(tmp_path / "run"), verbose=False)
    assert not os.path.exists(tmp_path / "run")


def test_cli_convert_progress_and_overwrite(demo_manifest, tmp_path, capsys):
    import yaml

    spec = tiny_spec_dict(demo_manifest)
    spec["inputs"] = {k: spec["inputs"][k] for k in ("caption", "reading", "colour")}  # no files: quick
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    out = str(tmp_path / "shards")
    assert main(["convert", str(spec_file), "--out", out, "--shards", "2"]) == 0
    captured = capsys.readouterr()
    assert "train" in captured.err and "examples" in captured.err and "[====" in captured.err
    assert "examples written to" in captured.out
    assert read_index(out)["splits"]["train"]["files"][-1] == "train-00001-of-00002.tfrecord"
    assert main(["convert", str(spec_file), "--out", out, "--shards", "2"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["convert", str(spec_file), "--out", out, "--shards", "1", "--mode", "raw", "--overwrite"]) == 0
    assert read_index(out)["splits"]["train"]["files"] == ["train-00000-of-00001.tfrecord"]
    assert read_index(out)["mode"] == "raw"
    assert sorted(f for f in os.listdir(out) if f.startswith("train")) == ["train-00000-of-00001.tfrecord"]
    with pytest.raises(DataError, match="already holds shards"):
        convert_to_shards(dict(spec, data={"path": out}), str(tmp_path / "again"), 2, progress=False)
    with pytest.raises(DataError, match="mode: 'pixels' is not supported; allowed: preprocessed, raw"):
        convert_to_shards(spec, str(tmp_path / "other"), 2, mode="pixels")


def test_raw_mode_decodes_and_augments_when_read(converted, tmp_path):
    folder, spec_dict, _ = converted
    raw_folder = str(tmp_path / "raw")
    index = convert_to_shards(spec_dict, raw_folder, 2, mode="raw", progress=False)
    assert index["mode"] == "raw" and index["features"]["0/picture"] == {"dtype": "string", "shape": []}
    size = lambda d: sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".tfrecord"))
    assert size(raw_folder) < size(folder) / 2  # PNG bytes, not float32 pixels
    spec = load_spec(spec_dict)
    pre = Preprocessor.load(os.path.join(raw_folder, "preprocessor"), spec=spec)
    expected = _batches(make_dataset(spec, load_splits(spec)["test"], pre, batch_size=16))
    got = _batches(shard_dataset(raw_folder, "test", batch_size=16))
    assert len(got) == len(expected)
    for (x1, y1), (x2, y2) in zip(expected, got):
        assert set(x1) == set(x2)
        for key in x1:
            np.testing.assert_array_equal(x2[key], x1[key], err_msg=key)
        np.testing.assert_array_equal(y2["label"], y1["label"])
    # augmentation comes from the training spec and runs when the shards are read in training
    augmented = json.loads(json.dumps(spec_dict))
    augmented["inputs"]["picture"]["augment"] = {"flip": "horizontal", "contrast": 0.5}
    aug_pre = Preprocessor.load(os.path.join(raw_folder, "preprocessor"), spec=load_spec(augmented))
    plain = _batches(shard_dataset(raw_folder, "train", batch_size=16, training=True, shuffle=False))
    aug = _batches(shard_dataset(raw_folder, "train", batch_size=16, training=True, shuffle=False,
                                 preprocessor=aug_pre))
    assert [x["picture"].shape for x, _ in aug] == [x["picture"].shape for x, _ in plain]
    np.testing.assert_array_equal(aug[0][0]["caption"], plain[0][0]["caption"])
    assert not np.allclose(aug[0][0]["picture"], plain[0][0]["picture"])


def test_bad_file_names_row_and_leaves_nothing(demo_manifest, tmp_path):
    import shutil

    import pandas as pd

    data = tmp_path / "data"
    shutil.copytree(os.path.dirname(demo_manifest), data)
    table = pd.read_csv(data / "manifest.csv")
    bad = table.index[table["split"] == "test"][2]
    (data / table.loc[bad, "image_path"]).write_bytes(b"not an image")
    spec = tiny_spec_dict(str(data / "manifest.csv"))
    spec["inputs"] = {"picture": spec["inputs"]["picture"]}
    out = tmp_path / "shards"
    with pytest.raises(DataError, match=r"row 2 of test split, column 'image_path'"):
        convert_to_shards(spec, str(out), 2, progress=False)
    assert not out.exists() and not [n for n in os.listdir(tmp_path) if n.startswith(".")]
