"""`mmkeras.data.sources`: one Source interface over tables and shard folders, one pipeline-stage function."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from helpers import tiny_spec_dict
from mmkeras.data import DataError, load_splits, make_dataset
from mmkeras.data.pipeline import stages
from mmkeras.data.sources import ShardSource, Source, TableSource, source_for
from mmkeras.data.sources.shards.write import convert_to_shards
from mmkeras.data.sources.table import has_targets, table_examples
from mmkeras.specs import load_spec


@pytest.fixture(scope="module")
def spec(demo_manifest):
    spec = tiny_spec_dict(demo_manifest)
    del spec["inputs"]["sound"]  # image, text, numeric, categorical: quick
    return load_spec(spec)


@pytest.fixture(scope="module")
def table(spec):
    source = TableSource(spec)
    return source, source.preprocessor()


@pytest.fixture(scope="module")
def shard_folders(spec, tmp_path_factory):
    folders = {mode: str(tmp_path_factory.mktemp("sources") / mode) for mode in ("preprocessed", "raw")}
    for mode, folder in folders.items():
        convert_to_shards(spec, folder, 2, mode=mode, progress=False)
    return folders


def _batches(ds):
    return list(ds.as_numpy_iterator())


def _assert_same(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        tf.nest.assert_same_structure(a, b)
        for x, y in zip(tf.nest.flatten(a), tf.nest.flatten(b)):
            np.testing.assert_array_equal(x, y)


def test_source_for_a_table(spec, table):
    source, pre = table
    splits = load_splits(spec)
    assert isinstance(source_for(spec), TableSource) and isinstance(source, Source)
    assert source.split_names == ["train", "validation", "test"]
    assert source.sizes() == {k: len(v) for k, v in splits.items()}
    assert source.table("test").equals(splits["test"])
    assert source.root == os.path.dirname(spec.data.path)
    assert pre.adapted and pre.targets["label"].classes


def test_table_dataset_is_make_dataset(spec, table):
    source, pre = table
    test = source.table("test")
    _assert_same(_batches(source.dataset("test", pre, batch_size=5)),
                 _batches(make_dataset(spec, test, pre, batch_size=5)))
    inputs_only = next(iter(source.dataset("test", pre, with_targets=False)))
    assert isinstance(inputs_only, dict) and "_presence" in inputs_only
    train = _batches(source.dataset("train", pre, training=True, batch_size=10))
    assert [len(x["caption"]) for x, _ in train] == [10] * (source.sizes()["train"] // 10)  # static batches


def test_table_source_of_given_splits(spec, table):
    _, pre = table
    splits = load_splits(spec)
    source = TableSource(spec, {"train": splits["train"], "validation": None, "test": splits["test"][:7]})
    assert source.split_names == ["train", "test"] and source.sizes()["test"] == 7
    with pytest.raises(DataError, match="has no validation split; it has train, test"):
        source.dataset("validation", pre)
    with pytest.raises(ValueError, match="holdout"):
        TableSource(spec, {"holdout": splits["test"]})
    with pytest.raises(DataError, match="has no train split"):
        TableSource(spec, {"test": splits["test"]}).preprocessor()


def test_table_explain_names_row_column_and_file(spec, table, tmp_path):
    _, pre = table
    data = tmp_path / "data"
    shutil.copytree(os.path.dirname(spec.data.path), data)
    df = pd.read_csv(data / "manifest.csv")
    test = df[df["split"] == "test"].reset_index(drop=True)
    (data / test.loc[3, "image_path"]).write_bytes(b"not an image")
    source = TableSource(spec.with_data(path=str(data / "manifest.csv"), root=str(data)), {"test": test})
    with pytest.raises(tf.errors.OpError) as info:
        _batches(source.dataset("test", pre))
    message = str(source.explain(info.value, pre))
    assert "row 3 of test split" in message and "image_path" in message


@pytest.mark.parametrize("mode", ["preprocessed", "raw"])
def test_shard_source_reads_what_the_table_yields(spec, table, shard_folders, mode):
    table_source, pre = table
    source = source_for(spec.with_data(path=shard_folders[mode]))
    assert isinstance(source, ShardSource) and source.mode == mode
    assert source.split_names == table_source.split_names and source.sizes() == table_source.sizes()
    assert source.table("test") is None and source.root is None
    loaded = source.preprocessor()
    assert loaded.get_state() == pre.get_state()
    _assert_same(_batches(source.dataset("test", loaded, batch_size=6)),
                 _batches(table_source.dataset("test", pre, batch_size=6)))
    inputs_only = next(iter(source.dataset("test", loaded, with_targets=False)))
    assert isinstance(inputs_only, dict)
    train = _batches(source.dataset("train", loaded, training=True, batch_size=10))
    assert [len(x["caption"]) for x, _ in train] == [10] * (source.sizes()["train"] // 10)
    error = tf.errors.InvalidArgumentError(None, None, "assertion failed: [row 1 of x, column 'c', file f] [bad]")
    assert str(source.explain(error, loaded)) == "row 1 of x, column 'c', file f: bad"


def test_shard_source_checks_the_spec(spec, shard_folders):
    other = spec.to_dict()
    other["inputs"]["picture"]["height"] = 24
    other["data"]["path"] = shard_folders["preprocessed"]
    with pytest.raises(DataError, match=r"inputs\.picture\.height: 24 in the spec, 32 in the shards"):
        ShardSource(load_spec(other))


def test_stages_read_only_then_decode_equals_the_whole_pipeline(spec, table):
    """Raw shards in memory: stop after reading, then decode and transform: the same batches as one pass."""
    _, pre = table
    test = load_splits(spec)["test"]
    examples = table_examples(spec, test, pre, with_targets=has_targets(spec, test))
    read = stages(examples, pre, batch_size=4, decode=False)
    raw, contexts, targets = next(iter(read))
    assert raw["picture"].dtype == tf.string and raw["_presence"].shape == [4, len(spec.inputs)]
    assert sorted(contexts) == ["picture"] and sorted(targets) == ["label"]
    again = stages(read.unbatch(), pre, batch_size=8, read=False)
    _assert_same(_batches(again), _batches(stages(examples, pre, batch_size=8)))
    _assert_same(_batches(again), _batches(make_dataset(spec, test, pre, batch_size=8)))
