"""`mmkeras describe SPEC`: what a spec resolves to, before any training.

The resolved spec with every default filled in (YAML), each input's
column, preprocessed shape and dtype (what the model receives), each
output, and the model summary with the nested encoders expanded. The
preprocessor is adapted on the train split first (vocabulary and class
counts set the shapes and the parameter counts), exactly as `train` does.
`keras.utils.plot_model` draws the graph into `model.png` when pydot and
Graphviz are installed (`pip install pydot`, `apt-get install graphviz` or
`brew install graphviz`); otherwise one line says so.
"""

import importlib.util
import os
import shutil

import keras
import yaml

from mmkeras.data.presence import PRESENCE
from mmkeras.data.sources import source_for
from mmkeras.reports.records import model_summary
from mmkeras.specs import load_spec
from mmkeras.tasks.registry import task_for

PLOT_FILE = "model.png"
NO_PLOT = ("{path} not drawn: keras.utils.plot_model needs pydot (pip install pydot) and Graphviz's `dot` "
           "(apt-get install graphviz, or brew install graphviz); missing: {missing}")


def plot_model_available():
    """(True, []) when `keras.utils.plot_model` can draw: pydot importable and Graphviz's `dot` on the PATH.

    Example:

    >>> available, missing = plot_model_available()
    >>> available == (missing == [])
    True
    """
    missing = [name for name, found in (("pydot", importlib.util.find_spec("pydot") is not None),
                                        ("graphviz (dot)", shutil.which("dot") is not None)) if not found]
    return not missing, missing


def input_rows(spec, preprocessor):
    """One row per model input: (name, type, column, shape with the batch first, dtype, encoder).

    The presence matrix (`_presence`, one column per input) is the last row.

    Example:

    >>> input_rows(spec, pre)[0]
    ('picture', 'image', 'image_path', '(None, 32, 32, 3)', 'float32', 'cnn')
    """
    rows = []
    for name, i in spec.inputs.items():
        feature = preprocessor.features[name]
        rows.append((name, i.type, i.column, str((None,) + tuple(feature.shape)), str(feature.dtype), i.encoder.type))
    rows.append((PRESENCE, "presence", "-", str((None, len(spec.inputs))), "float32", "-"))
    return rows


def _table(header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    return ["  " + "  ".join(f"{str(x):<{w}}" for x, w in zip(row, widths)).rstrip() for row in [header, *rows]]


def output_rows(spec, preprocessor):
    """One row per output: (name, type, column, classes or labels).

    Example:

    >>> output_rows(spec, pre)
    [('label', 'classification', 'label', '8')]
    """
    return [(name, o.type, o.column, str(preprocessor.targets[name].num_classes or "-"))
            for name, o in spec.outputs.items()]


def describe_spec(spec, *, data=None, root=None, plot_to=None, overwrite=False):
    """Lines describing a spec: resolved spec, inputs, outputs, model summary; draws `plot_to` when it can.

    Args:
        spec: a Spec, spec file or dict.
        data, root: another table (or shard folder) / file root than the spec's.
        plot_to: where `keras.utils.plot_model` draws the graph (None: not drawn).
        overwrite: replace an existing `plot_to` file.

    Returns:
        A list of lines to print.

    Raises:
        FileExistsError: `plot_to` exists and `overwrite` is false.

    Example:

    >>> lines = describe_spec(spec)
    >>> "inputs (as the model receives them)" in lines and any("Total params" in line for line in lines)
    True
    """
    spec = load_spec(spec)
    if data is not None or root is not None:
        spec = spec.with_data(path=data, root=root)
    if plot_to and os.path.exists(plot_to) and not overwrite:
        raise FileExistsError(f"{plot_to} already exists; pass --overwrite to replace it")
    task = task_for(spec)
    source, _ = task.prepare(source_for(spec))
    preprocessor = source.preprocessor()
    keras.utils.set_random_seed(spec.training.seed)
    model = task.build_model(spec, preprocessor)
    lines = [f"spec {spec.name} ({spec.source or 'dict'}), resolved with every default:", ""]
    lines += ["  " + line for line in yaml.safe_dump(spec.to_dict(), sort_keys=False).rstrip().splitlines()]
    lines += ["", f"data: {', '.join(f'{k} {v}' for k, v in source.sizes().items())} {task.unit}", "",
              "inputs (as the model receives them)"]
    lines += _table(("input", "type", "column", "shape", "dtype", "encoder"), input_rows(spec, preprocessor))
    if spec.outputs:
        lines += ["", "outputs"] + _table(("output", "type", "column", "classes"), output_rows(spec, preprocessor))
    else:
        lines += ["", f"task: {spec.task.type} over {list(spec.task.pair)} (embedding {spec.task.embedding_dim})"]
    lines += ["", f"model: {model.count_params():,} parameters, XLA {'on' if model.jit_compile else 'off'}",
              model_summary(model)]
    if plot_to:
        lines.append(draw_model(model, plot_to))
    return lines


def draw_model(model, path):
    """Draws the model graph (shapes, nested encoders expanded) into `path`; returns the line to print.

    Example:

    >>> draw_model(model, os.path.join(tmp_dir, "model.png")).startswith(("model graph drawn", "model.png not drawn"))
    True
    """
    available, missing = plot_model_available()
    if not available:
        return NO_PLOT.format(path=os.path.basename(path), missing=", ".join(missing))
    keras.utils.plot_model(model, to_file=path, show_shapes=True, show_dtype=True, expand_nested=True,
                           show_layer_names=True, dpi=72)
    return f"model graph drawn into {path}"
