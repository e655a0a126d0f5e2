"""Shared test setup: quiet TensorFlow, fixed seeds, the tiny demo fixtures and the doctest namespace."""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402,F401

from mmkeras.demo import data as datasets  # noqa: E402
from tensorflow.python.framework.config import disable_op_determinism  # noqa: E402  (TF has no public one)
from mmkeras.jit import op_determinism_enabled  # noqa: E402
from mmkeras.runs.lifecycle import train_run  # noqa: E402
from mmkeras.testing import doctest_namespace as package_doctest_namespace, tiny_spec_dict  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")


@pytest.fixture(autouse=True)
def _fixed_seed():
    keras.utils.set_random_seed(0)
    yield
    # A run with training.deterministic turns TF op determinism on for the rest of the process, and Keras
    # then refuses XLA; later tests (and the doctest namespace) must not inherit it.
    if op_determinism_enabled():
        disable_op_determinism()


@pytest.fixture(scope="session")
def demo_manifest(tmp_path_factory):
    return datasets.make_demo_data(str(tmp_path_factory.mktemp("demo") / "data"), num_examples=64, seed=0)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, demo_manifest):
    """(run_dir, spec_dict) of a one-epoch run on the tiny demo data."""
    run_dir = str(tmp_path_factory.mktemp("runs") / "run")
    spec = tiny_spec_dict(demo_manifest)
    train_run(spec, run_dir, verbose=False)
    return run_dir, spec


@pytest.fixture(autouse=True)
def _package_doctest_namespace(request, tmp_path_factory):
    """`pytest --doctest-modules` gets the names of `mmkeras.testing.doctest_namespace` (tests/test_doctests.py
    runs the same examples without that flag)."""
    if isinstance(request.node, pytest.DoctestItem):
        namespace = request.getfixturevalue("doctest_namespace")
        namespace.update(package_doctest_namespace(str(tmp_path_factory.getbasetemp())))


@pytest.fixture
def xla_as_on_gpu(monkeypatch):
    """`jit_compile: auto` resolves as on a GPU host, so tests that check XLA really turns on still do on CPU."""
    import mmkeras.jit

    monkeypatch.setattr(mmkeras.jit, "accelerators", lambda: ["GPU"])
