"""Helpers shared by tests (fixtures live in conftest.py; the shared harness in mmkeras.testing)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from mmkeras.testing import tiny_spec_dict  # noqa: E402,F401
