"""Checking an export the way it will be used: served by a fresh Python that never imports mmkeras."""

import os
import subprocess
import sys
import tempfile

import numpy as np

_SUBPROCESS_SCRIPT = r"""
import sys, numpy as np, tensorflow as tf
saved_model, batch_file, out_file = sys.argv[1:4]
batch = dict(np.load(batch_file, allow_pickle=True))
serve = tf.saved_model.load(saved_model).signatures["serving_default"]
specs = serve.structured_input_signature[1]
outputs = serve(**{k: tf.constant(v, dtype=specs[k].dtype) for k, v in batch.items()})
np.savez(out_file, **{k: v.numpy() for k, v in outputs.items()})
assert "mmkeras" not in sys.modules, "the export needed mmkeras"
"""


def serve_in_subprocess(saved_model_dir, batch, *, timeout=300):
    """Runs `serving_default` on `batch` in a fresh Python that never imports mmkeras.

    Args:
        saved_model_dir: an export written by `export_saved_model`.
        batch: {input name: numpy array} of raw inputs (bytes objects for files).

    Returns:
        {output name: numpy array}.

    Example:

    >>> out = serve_in_subprocess(os.path.join(run_dir, "saved_model"), {
    ...     "picture": np.array([b""], object), "sound": np.array([b""], object),
    ...     "caption": np.array(["a red circle"], object), "reading": np.float32([0.5]),
    ...     "colour": np.array(["red"], object)})
    >>> out["label_probabilities"].shape
    (1, 8)
    """
    with tempfile.TemporaryDirectory() as tmp:
        batch_file, out_file = os.path.join(tmp, "batch.npz"), os.path.join(tmp, "out.npz")
        np.savez(batch_file, **{k: np.asarray(v) for k, v in batch.items()})
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        result = subprocess.run([sys.executable, "-c", _SUBPROCESS_SCRIPT, os.path.abspath(saved_model_dir),
                                 batch_file, out_file],
                                capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp)
        if result.returncode != 0:
            raise RuntimeError(f"Serving {saved_model_dir} in a subprocess failed:\n{result.stderr[-3000:]}")
        with np.load(out_file, allow_pickle=True) as data:
            return {k: data[k] for k in data.files}
