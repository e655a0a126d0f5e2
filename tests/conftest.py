"""Shared test setup: quiet TensorFlow, fixed seeds."""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402,F401

from mmkeras.demo import data as datasets  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")


@pytest.fixture(autouse=True)
def _fixed_seed():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def demo_manifest(tmp_path_factory):
    return datasets.make_demo_data(str(tmp_path_factory.mktemp("demo") / "data"), num_examples=64, seed=0)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, demo_manifest):
    """(run_dir, spec_dict) of a one-epoch run on the tiny demo data."""
    from mmkeras.runs.lifecycle import train_run
    from helpers import tiny_spec_dict

    run_dir = str(tmp_path_factory.mktemp("runs") / "run")
    spec = tiny_spec_dict(demo_manifest)
    train_run(spec, run_dir, verbose=False)
    return run_dir, spec
