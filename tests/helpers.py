"""Helpers shared by tests (fixtures live in conftest.py)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mmkeras.demo import data as datasets  # noqa: E402


def tiny_spec_dict(manifest, **training):
    """The demo spec with small encoders, so tests compile and train fast."""
    spec = datasets.demo_spec_dict(manifest)
    spec["inputs"]["picture"]["encoder"] = {"type": "cnn", "filters": [8], "dense_units": 16}
    spec["inputs"]["sound"]["encoder"] = {"type": "cnn", "filters": [8], "dense_units": 16}
    spec["inputs"]["caption"]["encoder"] = {"type": "bag_of_embeddings", "embedding_dim": 8}
    spec["fusion"] = {"type": "concat", "hidden_units": [16], "dropout": 0.0}
    spec["training"].update({"epochs": 1, "batch_size": 16, **training})
    return spec
