"""Shared fixtures: a tiny generated data set and a tiny trained run (session scoped)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from mmkeras import datasets  # noqa: E402


def tiny_spec_dict(manifest, **training):
    """The demo spec with small encoders, so tests compile and train fast."""
    spec = datasets.demo_spec_dict(manifest)
    spec["inputs"]["picture"]["encoder"] = {"type": "cnn", "filters": [8], "dense_units": 16}
    spec["inputs"]["sound"]["encoder"] = {"type": "cnn", "filters": [8], "dense_units": 16}
    spec["inputs"]["caption"]["encoder"] = {"type": "bag_of_embeddings", "embedding_dim": 8}
    spec["fusion"] = {"type": "concat", "hidden_units": [16], "dropout": 0.0}
    spec["training"].update({"epochs": 1, "batch_size": 16, **training})
    return spec


@pytest.fixture(scope="session")
def demo_manifest(tmp_path_factory):
    return datasets.make_demo_data(str(tmp_path_factory.mktemp("demo") / "data"), num_examples=64, seed=0)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, demo_manifest):
    """(run_dir, spec_dict) of a one-epoch run on the tiny demo data."""
    from mmkeras.runs import train_run

    run_dir = str(tmp_path_factory.mktemp("runs") / "run")
    spec = tiny_spec_dict(demo_manifest)
    train_run(spec, run_dir, verbose=False)
    return run_dir, spec
