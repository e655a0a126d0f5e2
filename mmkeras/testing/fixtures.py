"""Tiny demo data, a fast spec for it, and the namespace the package's doctests run in."""

import os
import tempfile

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

import mmkeras
from mmkeras.demo import data as demo_data
from mmkeras.runs.lifecycle import train_run
from mmkeras.runs.run_dir import load_run

DOCTEST_ROWS = 64
_FIXTURES = {}  # built once per process by doctest_namespace


def tiny_spec_dict(manifest, **training):
    """The demo spec with small encoders and one epoch, so tests compile and train fast.

    Args:
        manifest: a manifest written by `mmkeras.demo.data.make_demo_data`.
        **training: `training` keys to set (e.g. `epochs=2`).

    Returns:
        A spec dict: the demo's five inputs and its `label` output.

    Example:

    >>> manifest = os.path.join(data_dir, "manifest.csv")
    >>> spec_dict = tiny_spec_dict(manifest, batch_size=8)
    >>> spec_dict["training"]["epochs"], spec_dict["training"]["batch_size"], sorted(spec_dict["inputs"])
    (1, 8, ['caption', 'colour', 'picture', 'reading', 'sound'])
    """
    spec = demo_data.demo_spec_dict(manifest)
    spec["inputs"]["picture"]["encoder"] = {"type": "cnn", "filters": [8], "dense_units": 16}
    spec["inputs"]["sound"]["encoder"] = {"type": "cnn", "filters": [8], "dense_units": 16}
    spec["inputs"]["caption"]["encoder"] = {"type": "bag_of_embeddings", "embedding_dim": 8}
    spec["fusion"] = {"type": "concat", "hidden_units": [16], "dropout": 0.0}
    xla = {} if training.get("deterministic") else {"jit_compile": True}  # tests check XLA where Keras allows it
    spec["training"].update({"epochs": 1, "batch_size": 16, **xla, **training})
    return spec


def retrieval_spec_dict(manifest, **task):
    """The tiny demo spec as picture <-> caption retrieval (`task: retrieval`, 8-dimensional embeddings).

    Args:
        manifest: a manifest written by `mmkeras.demo.data.make_demo_data`.
        **task: `task` keys to set (e.g. `temperature=0.1`).

    Example:

    >>> mmkeras.load_spec(retrieval_spec_dict(os.path.join(data_dir, "manifest.csv"))).task.pair
    ('picture', 'caption')
    """
    spec = tiny_spec_dict(manifest)
    spec["inputs"] = {k: spec["inputs"][k] for k in ("picture", "caption")}
    del spec["outputs"], spec["fusion"]
    spec["task"] = {"type": "retrieval", "pair": ["picture", "caption"], "embedding_dim": 8, **task}
    return spec


def tiny_demo(tmp_dir, n=DOCTEST_ROWS, *, seed=0, **training):
    """Writes `n` rows of the synthetic demo data into `tmp_dir/data` and gives its tiny spec.

    Args:
        tmp_dir: an existing folder; `data/` is created inside it.
        n: rows, at least 24 (3 per class).
        seed: seed of the data.
        **training: `training` keys of the spec (see `tiny_spec_dict`).

    Returns:
        `(manifest path, spec dict)`.

    Example:

    >>> manifest, spec_dict = tiny_demo(tmp_dir, n=24)
    >>> len(pd.read_csv(manifest)), mmkeras.load_spec(spec_dict).training.epochs
    (24, 1)
    """
    manifest = demo_data.make_demo_data(os.path.join(tmp_dir, "data"), num_examples=n, seed=seed)
    return manifest, tiny_spec_dict(manifest, **training)


def _build_fixtures(folder):
    """The data, spec, splits, preprocessor, model and run directory the doctests share.

    One training only: `train_run` writes the run directory and the model,
    preprocessor and spec are read back from it (`load_run`).
    """
    os.makedirs(folder, exist_ok=True)
    manifest, spec_dict = tiny_demo(folder)
    keras.utils.set_random_seed(0)
    run_dir = os.path.join(folder, "run")
    train_run(spec_dict, run_dir, verbose=False)
    spec, pre, model = load_run(run_dir)
    return {"data_dir": os.path.dirname(manifest), "spec": spec, "splits": mmkeras.load_splits(spec),
            "pre": pre, "model": model, "run_dir": run_dir}


def doctest_namespace(tmp_dir):
    """The names every `Example:` block of the package may use.

    `mmkeras`, `keras`, `np`, `tf`, `pd`, `os`, and fixtures of a tiny
    demo data set (built on the first call, then shared by every later
    call of the process): `data_dir` (a folder with `manifest.csv`, PNG and
    WAV files), `spec` (its loaded Spec: inputs picture, sound, caption,
    reading, colour; output `label`, classification with 8 classes; 1
    epoch), `splits` (train/validation/test DataFrames), `pre` (the adapted
    Preprocessor), `model` (built, compiled and fitted one epoch) and
    `run_dir` (a run directory `train_run` wrote for that spec). `tmp_dir`
    is a new empty folder on every call.

    Args:
        tmp_dir: a folder that outlives the doctests (the fixtures live in it).

    Returns:
        A new dict of those names.

    Example:

    >>> namespace = doctest_namespace(tmp_dir)
    >>> namespace["spec"] is spec, os.listdir(namespace["tmp_dir"])
    (True, [])
    """
    if "fixtures" not in _FIXTURES:
        _FIXTURES["fixtures"] = _build_fixtures(os.path.join(tmp_dir, "doctest_fixtures"))
    return {"mmkeras": mmkeras, "keras": keras, "np": np, "tf": tf, "pd": pd, "os": os,
            **_FIXTURES["fixtures"], "tmp_dir": tempfile.mkdtemp(dir=tmp_dir)}
