"""Checking an export the way it will be used: served by a fresh Python that never imports mmkeras."""

import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np

# Arrays of strings cross as bytes + lengths + shape (no pickle); the script repeats `pack` and `unpack`.
_SUBPROCESS_SCRIPT = r"""
import importlib, json, os, sys, numpy as np, tensorflow as tf
def pack(arrays):
    out = {}
    for k, v in arrays.items():
        v = np.asarray(v)
        if v.dtype != object and v.dtype.kind not in "SU":
            out[k] = v
            continue
        items = [x.encode() if isinstance(x, str) else bytes(x) for x in v.reshape(-1).tolist()]
        out[k] = np.frombuffer(b"".join(items), np.uint8)
        out[k + "__lengths"], out[k + "__shape"] = np.int64([len(x) for x in items]), np.int64(v.shape)
    return out
def unpack(data):
    out = {}
    for k in data.files:
        if k.endswith(("__lengths", "__shape")):
            continue
        if k + "__lengths" not in data.files:
            out[k] = data[k]
            continue
        raw, ends = data[k].tobytes(), np.cumsum(data[k + "__lengths"])
        items = [raw[a:b] for a, b in zip(np.concatenate([[0], ends[:-1]]).astype(int), ends.astype(int))]
        out[k] = np.array(items + [None], object)[:-1].reshape(tuple(data[k + "__shape"]))
    return out
if __name__ == "__main__":
    saved_model, batch_file, out_file = sys.argv[1:4]
    metadata_file = os.path.join(saved_model, "assets.extra", "mmkeras.json")
    if os.path.exists(metadata_file):  # e.g. tensorflow_text, whose ops a KerasHub tokenizer uses
        for module in json.load(open(metadata_file)).get("serving_imports", []):
            importlib.import_module(module)
    with np.load(batch_file) as data:
        batch = unpack(data)
    serve = tf.saved_model.load(saved_model).signatures["serving_default"]
    specs = serve.structured_input_signature[1]
    outputs = serve(**{k: tf.constant(v, dtype=specs[k].dtype) for k, v in batch.items()})
    np.savez(out_file, **pack({k: v.numpy() for k, v in outputs.items()}))
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
        script = os.path.join(tmp, "serve.py")
        with open(script, "w") as f:
            f.write(_SUBPROCESS_SCRIPT)
        codec = _codec(tmp)
        np.savez(batch_file, **codec.pack(batch))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        result = subprocess.run([sys.executable, script, os.path.abspath(saved_model_dir), batch_file, out_file],
                                capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp)
        if result.returncode != 0:
            raise RuntimeError(f"Serving {saved_model_dir} in a subprocess failed:\n{result.stderr[-3000:]}")
        with np.load(out_file) as data:
            return codec.unpack(data)


def _codec(folder):
    """The subprocess script as a module (its `pack` and `unpack`), loaded from `folder/serve.py`."""
    spec = importlib.util.spec_from_file_location("mmkeras_serve_script", os.path.join(folder, "serve.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
