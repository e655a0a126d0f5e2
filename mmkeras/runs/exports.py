"""Exporting a run to ONNX or LiteRT (`mmkeras export RUN_DIR --format onnx|litert`), checked before it is kept.

```
RUN_DIR/onnx/     model.onnx    export.json
RUN_DIR/litert/   model.tflite  export.json
```

These hold the tensor-input Keras model (see `mmkeras.export.tensor_model`):
the raw-input preprocessing (decoding files, tokenising, audio features)
stays in the SavedModel. `export.json` lists the inputs (name, the model
input it feeds, shape, dtype) and outputs, and the check: the export run
in its runtime (onnxruntime, the TFLite interpreter) on up to 32 rows of
the run's held-out split, against the Keras model, within 1e-5. A folder
whose check fails is not written.
"""

import json
import os

import numpy as np

from mmkeras.data.sources import source_for
from mmkeras.errors import DataError
from mmkeras.export.litert import export_litert
from mmkeras.export.onnx import export_onnx
from mmkeras.export.tensor_model import TOLERANCE, input_names, input_signature
from mmkeras.files import write_atomically
from mmkeras.runs.run_dir import load_run

FORMATS = {"onnx": ("model.onnx", export_onnx, "onnxruntime"),
           "litert": ("model.tflite", export_litert, "the TFLite interpreter")}
CHECK_ROWS = 32
NOTE = ("Tensor inputs: this is the Keras model without the preprocessing (file decoding, tokenising, audio "
        "features, lookups), which stays in the run's raw-input SavedModel (saved_model/). Feed it what "
        "mmkeras.Preprocessor (or make_dataset) produces; 'presence' is the '_presence' matrix (1 = input present).")


def check_batch(spec, preprocessor, model, rows=CHECK_ROWS):
    """(a batch of model inputs, where it came from): the run's held-out rows, or a generated batch without data.

    Example:

    >>> batch, origin = check_batch(spec, pre, model)
    >>> origin, sorted(batch)[:2]
    ('test split (8 rows)', ['_presence', 'caption'])
    """
    try:
        source = source_for(spec)
        split = next(s for s in ("test", "validation", "train") if s in source.split_names)
        batch = next(iter(source.dataset(split, preprocessor, with_targets=False, batch_size=rows)))
        batch = {k: np.asarray(v) for k, v in batch.items()}
        return batch, f"{split} split ({len(next(iter(batch.values())))} rows)"
    except (DataError, FileNotFoundError, StopIteration):
        rng = np.random.default_rng(0)
        batch = {}
        for t in model.inputs:
            shape = [4] + [d or 1 for d in t.shape[1:]]
            batch[t.name] = (np.ones(shape, t.dtype) if t.name == "_presence" else
                             rng.random(shape).astype(t.dtype) if "float" in str(t.dtype) else np.ones(shape, t.dtype))
        return batch, "4 generated rows (the run's data was not found)"


def export_format(run_dir, fmt, out=None, *, overwrite=False):
    """Exports a run's Keras model as ONNX or LiteRT into a folder, after checking it in its runtime.

    Args:
        run_dir: a run directory from `train_run`.
        fmt: "onnx" or "litert".
        out: the folder (default `RUN_DIR/<fmt>`).
        overwrite: replace an existing folder.

    Returns:
        (absolute folder path, the `export.json` dict).

    Raises:
        ExportError: the format cannot hold an op of the model, or the check failed.
        FileExistsError: the folder exists and `overwrite` is false.

    Example:

    >>> path, info = export_format(run_dir, "onnx", os.path.join(tmp_dir, "onnx"))
    >>> sorted(os.listdir(path)), info["check"]["max_abs_difference"]["label"] <= 1e-5
    (['export.json', 'model.onnx'], True)
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {sorted(FORMATS)}")
    file_name, export, runtime = FORMATS[fmt]
    target = out or os.path.join(run_dir, fmt)
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(f"{target} already exists; pass --overwrite to replace it")
    spec, pre, model = load_run(run_dir)
    batch, origin = check_batch(spec, pre, model)
    info = {"format": fmt, "file": file_name, "spec": spec.name, "note": NOTE,
            "inputs": [{"name": s.name, "model_input": original, "shape": list(s.shape), "dtype": s.dtype.name}
                       for s, original in zip(input_signature(model), input_names(model).values())],
            "outputs": list(model.output_names)}

    def write(folder):
        differences = export(model, os.path.join(folder, file_name), batch)
        info["check"] = {"runtime": runtime, "data": origin, "tolerance": TOLERANCE,
                         "max_abs_difference": differences}
        with open(os.path.join(folder, "export.json"), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)

    return write_atomically(target, write, overwrite=overwrite), info
