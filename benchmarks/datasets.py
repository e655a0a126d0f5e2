"""Benchmark data: the embedded generator at a requested size, or the shared av_digits set."""

import os
import tempfile

import mmkeras
from mmkeras.demo import data as datasets

SHARED_AV_DIGITS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "..", "..", "shared", "specs", "av_digits.yaml"))


def generated_spec(num_examples, work_dir=None, image_audio_only=True, epochs=None):
    """A spec dict over freshly generated demo data (image + audio only by default)."""
    work_dir = work_dir or tempfile.mkdtemp(prefix="mmkeras-bench-")
    manifest = os.path.join(work_dir, "manifest.csv")
    if not os.path.exists(manifest):
        datasets.make_demo_data(work_dir, num_examples=num_examples, seed=0)
    spec = datasets.demo_spec_dict(manifest)
    if image_audio_only:
        spec["inputs"] = {k: spec["inputs"][k] for k in ("picture", "sound")}
    if epochs:
        spec["training"]["epochs"] = epochs
    return spec


def av_digits_spec():
    """The shared av_digits spec, or None when ../shared is absent."""
    if not os.path.isfile(SHARED_AV_DIGITS):
        return None
    spec = mmkeras.load_spec(SHARED_AV_DIGITS)
    return spec if os.path.isfile(spec.data.path) else None
