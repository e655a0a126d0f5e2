"""Modality importance: how much each input matters to a trained model.

Two views, one row per input:

* **masking**: the model is evaluated on a table with all inputs, then once
  per input with that input marked missing (its `"_presence"` column set to
  0, so the model sees its learned "missing" embedding); the drop of the
  main metric (first output's accuracy, R², micro F1) is the importance.
* **fusion weights**: for fusions with learned per-input weights
  (`weighted`: the softmax weights; `attention`: the mean attention weight
  over the table; `gated`: the mean gate value), the mean weight per input.
"""

import os
import warnings

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from mmkeras.data import make_dataset
from mmkeras.data.presence import PRESENCE
from mmkeras.errors import DataError
from mmkeras.runs.run_dir import held_out_data, load_run
from mmkeras.tasks.outputs.metrics import output_metrics
from mmkeras.tasks.registry import task_for

# Fusion classes whose per-input weights are learned (not just the presence).
WEIGHTED_FUSIONS = ("WeightedFusion", "AttentionFusion", "GatedFusion")
IMPORTANCE_FILE = "importance.csv"


def _score(metrics, output, metric):
    values = metrics[output]
    if metric in values:
        return float(values[metric])
    floats = [v for v in values.values() if isinstance(v, float)]
    return float(floats[0]) if floats else float("nan")


def _masked(ds, column, n):
    keep = tf.constant([0.0 if i == column else 1.0 for i in range(n)], tf.float32)
    return ds.map(lambda x: {**x, PRESENCE: x[PRESENCE] * keep})


def fusion_weights(model, dataset, names):
    """Mean learned fusion weight per input over a dataset, or None when the fusion has none.

    Runs the model up to the `<input>_missing` layers (encoder outputs after the
    missing embedding) and asks the `fusion` layer for its `modality_weights`;
    for late fusion with `combine: weighted`, the first output's combine layer.

    Args:
        model: a model from `build_model`.
        dataset: batches of its inputs (with `"_presence"`), no targets.
        names: the input names, in spec order.

    Returns:
        A float32 array `[inputs]`, or None.

    Example:

    >>> ds = mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False)
    >>> fusion_weights(model, ds, list(spec.inputs)) is None   # concat fusion: no learned weights
    True
    """
    late = [layer for layer in model.layers
            if type(layer).__name__ == "LateCombine" and getattr(layer, "combine", None) == "weighted"]
    if late:  # fusion: {type: late, combine: weighted}: the first output's learned weights
        total, count = np.zeros(len(names), np.float64), 0
        for batch in dataset:
            weights = keras.ops.convert_to_numpy(late[0].modality_weights(batch[PRESENCE])).astype(np.float64)
            total += weights.sum(axis=0)
            count += weights.shape[0]
        return (total / max(count, 1)).astype(np.float32)
    try:
        fusion = model.get_layer("fusion")
        encoded = [model.get_layer(f"{n}_missing").output for n in names]
    except ValueError:
        return None
    if type(fusion).__name__ not in WEIGHTED_FUSIONS or not hasattr(fusion, "modality_weights"):
        return None
    encoders = keras.Model(model.input, encoded)
    total, count = np.zeros(len(names), np.float64), 0
    for batch in dataset:
        vectors = encoders(batch, training=False)
        presence = batch[PRESENCE]
        weights = fusion.modality_weights(vectors, [presence[:, i] for i in range(len(names))])
        weights = keras.ops.convert_to_numpy(weights).astype(np.float64)
        total += weights.sum(axis=0)
        count += weights.shape[0]
    return (total / max(count, 1)).astype(np.float32)


def modality_importance(model, preprocessor, df, *, root=None, table="", batch_size=None):
    """Per input: the main metric's drop when that input is masked as missing, and learned fusion weights.

    Args:
        model: a model from `build_model` (or `load_run`), with the `"_presence"` input.
        preprocessor: its adapted `Preprocessor`.
        df: a table with the spec's input and output columns (e.g. the test split).
        root: folder for relative file paths; table: its name for messages.
        batch_size: default the spec's.

    Returns:
        A DataFrame, one row per input: `input`, `type`, `metric`, `with_all`
        (score with every input), `without` (score with this input missing),
        `drop` (`with_all - without`), and `fusion_weight` (mean learned
        weight, NaN when the fusion has none).

    Example:

    >>> table = mmkeras.modality_importance(model, pre, splits["test"])
    >>> list(table["input"]) == list(spec.inputs), table["metric"].iloc[0]
    (True, 'label.accuracy')
    """
    spec = preprocessor.spec
    names = list(spec.inputs)
    output, metric = task_for(spec).main_metric()
    ds = make_dataset(spec, df, preprocessor, with_targets=False, root=root, table=table,
                      batch_size=batch_size, shuffle=False, cache="memory")

    def score(dataset):
        with warnings.catch_warnings():  # Keras warns when a dataset of unknown length ends; it is expected
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            predictions = model.predict(dataset, verbose=0)
        if not isinstance(predictions, dict):
            predictions = {output: predictions}
        return _score(output_metrics(spec, preprocessor, predictions, df), output, metric)

    baseline = score(ds)
    weights = fusion_weights(model, ds, names)
    rows = []
    for i, name in enumerate(names):
        without = score(_masked(ds, i, len(names)))
        rows.append({"input": name, "type": spec.inputs[name].type, "metric": f"{output}.{metric}",
                     "with_all": baseline, "without": without, "drop": baseline - without,
                     "fusion_weight": float(weights[i]) if weights is not None else float("nan")})
    return pd.DataFrame(rows)


def importance_run(run_dir, *, data=None, root=None, out=None):
    """Modality importance of a run directory on a table (default: its test split, else validation).

    Writes the table as CSV to `out` (default `RUN_DIR/importance.csv`, or
    `RUN_DIR/importance_<table name>.csv` with `data`).

    Args:
        run_dir: a run directory from `train_run` (a spec with outputs).
        data, root: another table / file root than the spec's.
        out: the CSV file to write.

    Returns:
        (DataFrame, path written).

    Example:

    >>> table, path = importance_run(run_dir, out=os.path.join(tmp_dir, "importance.csv"))
    >>> list(table["input"]) == list(spec.inputs)
    True
    """
    spec, pre, model = load_run(run_dir)
    if not task_for(spec).supports_importance:
        raise DataError(f"{run_dir}: modality importance needs a spec with outputs; this run's task is "
                        f"{task_for(spec).name}")
    source, items, default_out = held_out_data(spec, run_dir, data=data, root=root, splits=("test", "validation"),
                                               name="importance", ext=".csv")
    if not items:
        raise FileNotFoundError(f"{run_dir}: the spec has no test or validation split; pass --data TABLE")
    name, split = items[0]
    df = source.table(split)
    if df is None:
        raise DataError(f"{run_dir}: modality importance reads a table (it masks inputs of raw rows), not "
                        f"{source.description}; pass --data TABLE (a table with the spec's columns)")
    table = modality_importance(model, pre, df, root=source.root, table=name)
    path = out or default_out
    table.to_csv(path, index=False)
    return table, path
