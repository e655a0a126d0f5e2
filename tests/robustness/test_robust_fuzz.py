"""Spec fuzzing (hypothesis): random and mutated specs into `load_spec`; only a SpecError naming a key escapes.

The mutated specs start from the tiny demo spec (always) and the shared
specs in /work/shared/specs (when present): a key replaced by a random
value, removed, or a random key added, at any depth.
"""

import copy
import glob
import os

import pytest
import yaml

from mmkeras.errors import SpecError
from mmkeras.specs import load_spec
from mmkeras.testing import retrieval_spec_dict, tiny_spec_dict

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
SCALE = float(os.environ.get("MMKERAS_FUZZ_SCALE", "1"))  # e.g. 20 for a long, random (not derandomized) search
SETTINGS = dict(deadline=None, derandomize=SCALE == 1, suppress_health_check=list(hypothesis.HealthCheck))

SHARED = "/work/shared/specs"
KEYS = ["type", "column", "encoder", "inputs", "outputs", "data", "training", "fusion", "task", "split", "path",
        "root", "epochs", "batch_size", "sample_rate", "height", "options", "on_error", "allow_outside_root",
        "hidden_units", "train", "test", "validation", "pair", "filters", "name", "spec_version", "threshold"]
WORDS = KEYS + ["cnn", "image", "audio", "text", "classification", "regression", "concat", "raise", "skip",
                "auto", "none", "memory", "label", "-1", "1e9", "../../etc", "!!python/object", ""]


def _bases():
    base = tiny_spec_dict("/nonexistent/manifest.csv")
    specs = [base, retrieval_spec_dict("/nonexistent/manifest.csv")]
    for path in sorted(glob.glob(os.path.join(SHARED, "*.yaml"))):
        with open(path) as f:
            specs.append(yaml.safe_load(f))
    return specs


BASES = _bases()
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(WORDS), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), inner,
                                                 max_size=3)), max_leaves=8)


def _paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _paths(value, prefix + (i,))


def _mutate(spec, path, action, value, key):
    spec = copy.deepcopy(spec)
    if not path:
        return value if action == "replace" else spec
    parent = spec
    for step in path[:-1]:
        parent = parent[step]
    if action == "replace":
        parent[path[-1]] = value
    elif action == "remove" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent[path[-1]], dict):
        parent[path[-1]][key] = value
    return spec


def _load(spec):
    try:
        load_spec(spec)
    except SpecError as e:
        message = str(e)
        assert ": " in message and len(message) < 2000, message   # "<key path>: what is wrong"
    # anything else (KeyError, TypeError, AttributeError, ...) fails the test


@hypothesis.settings(max_examples=int(300 * SCALE), **SETTINGS)
@hypothesis.given(st.data())
def test_mutated_specs_raise_only_spec_errors(data):
    spec = data.draw(st.sampled_from(BASES))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(spec))[1:]))  # inside the spec: load_spec takes a dict
        spec = _mutate(spec, path, data.draw(st.sampled_from(["replace", "remove", "add"])), data.draw(values),
                       data.draw(st.sampled_from(KEYS)))
    _load(spec)


@hypothesis.settings(max_examples=int(150 * SCALE), **SETTINGS)
@hypothesis.given(st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
def test_random_specs_raise_only_spec_errors(spec):
    _load(spec)


@hypothesis.settings(max_examples=int(60 * SCALE), **SETTINGS)
@hypothesis.given(st.one_of(st.text(max_size=40), st.sampled_from([
    "!!python/object/apply:os.system ['echo owned']", "a: !!python/name:os.system", "&a [*a]", "{a: [}",
    "x: 1\nx: 2", "? [a, b]\n: c", "inputs: !!binary aGVsbG8=", "--- 1\n--- 2"])))
def test_random_yaml_files_raise_only_spec_errors(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    _load(str(path))
