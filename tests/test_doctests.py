"""Every `Example:` in the package's docstrings runs as a doctest (one case per module).

The examples run in `mmkeras.testing.doctest_namespace`: `mmkeras`, `keras`, `np`, `tf`, `pd`, `os`
and the tiny demo fixtures (`data_dir`, `spec`, `splits`, `pre`, `model`, `run_dir`, a fresh `tmp_dir`),
on top of the module's own globals, with ELLIPSIS and NORMALIZE_WHITESPACE.
"""

import contextlib
import doctest
import importlib
import io
import pkgutil

import pytest

import mmkeras
from mmkeras.encoders.registry import ENCODERS
from mmkeras.fusion.registry import FUSIONS
from mmkeras.tasks.outputs.heads import HEADS
from mmkeras.testing import doctest_namespace

MODULES = sorted(m.name for m in pkgutil.walk_packages(mmkeras.__path__, "mmkeras.")
                 if not m.name.endswith(".__main__")) + ["mmkeras"]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.fixture(scope="session")
def doctest_folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("doctests"))


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name, doctest_folder):
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, name) if t.examples]
    if not tests:
        return
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out = io.StringIO()
    with contextlib.ExitStack() as registries:  # what an example registers is gone after the module
        for registry in (ENCODERS, FUSIONS, HEADS):
            registries.enter_context(registry.restoring())
        for test in tests:
            test.globs = {**module.__dict__, **doctest_namespace(doctest_folder)}
            runner.run(test, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed:\n{out.getvalue()}"
