"""Metrics per output of a model: each output evaluated by its head.

`output_metrics` gives `{output: {metric: value}}`, the inner part of
`metrics.json`'s `{split: {output: {metric: value}}}`; `evaluate_model`
predicts a table first, `evaluate_dataset` reads the targets from a
dataset (shards). The numbers themselves come from each output type
(`mmkeras.tasks.outputs.scoring` for the built-ins, the head's Keras
metrics for a registered head without `evaluate`).
"""

import numpy as np

from mmkeras.data import make_dataset
from mmkeras.progress import BatchProgress, dataset_steps
from mmkeras.tasks.outputs.heads import HEADS


def main_metric(spec):
    """(output name, metric name) that sums a run up: the first output's head's `headline` metric.

    accuracy for classification and binary outputs, micro_f1 for
    multilabel, r2 for regression; a registered head's `main_metric` or its
    first Keras metric.

    Example:

    >>> main_metric(spec)
    ('label', 'accuracy')
    """
    name, out = next(iter(spec.outputs.items()))
    return name, HEADS.get(out.type).headline(out)


def as_output_dict(spec, predictions):
    """`model.predict`'s result as {output: array} (a one-output model may return the bare array).

    Example:

    >>> sorted(as_output_dict(spec, np.zeros([2, 8])))
    ['label']
    """
    if isinstance(predictions, dict):
        return predictions
    return {next(iter(spec.outputs)): predictions}


def output_metrics(spec, preprocessor, predictions, df):
    """{output: metrics} for a table with the outputs' columns.

    `predictions` are the model's raw outputs; each output's head compares
    them (decoded, e.g. regression back in the column's units) with the
    column as its target reads it (`target.truth`).

    Example:

    >>> predictions = model.predict(mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False), verbose=0)
    >>> output_metrics(spec, pre, predictions, splits["test"])["label"]["count"] == len(splits["test"])
    True
    """
    result = {}
    for name, out in spec.outputs.items():
        target = preprocessor.targets[name]
        y_true = target.truth(df[out.column])
        result[name] = HEADS.get(out.type).evaluation(out, target, y_true, predictions[name])
    return result


def evaluate_model(model, preprocessor, df, *, root=None, table=""):
    """Predicts a table with the in-memory model and returns {output: metrics}.

    Example:

    >>> metrics = evaluate_model(model, pre, splits["test"])
    >>> 0.0 <= metrics["label"]["accuracy"] <= 1.0
    True
    """
    spec = preprocessor.spec
    ds = make_dataset(spec, df, preprocessor, with_targets=False, root=root, table=table)
    progress = BatchProgress(f"evaluate {table or 'the table'}", dataset_steps(ds))
    predictions = as_output_dict(spec, model.predict(ds, verbose=0, callbacks=[progress]))
    return output_metrics(spec, preprocessor, predictions, df)


def evaluate_dataset(model, preprocessor, dataset):
    """{output: metrics} of a model on a dataset of `(inputs, encoded targets[, weights])`, e.g. shards.

    The targets are decoded as each target encoder stored them
    (`target.decode_targets`), then evaluated as in `output_metrics`.

    Example:

    >>> ds = mmkeras.make_dataset(spec, splits["test"], pre)
    >>> evaluate_dataset(model, pre, ds)["label"]["count"] == len(splits["test"])
    True
    """
    spec = preprocessor.spec
    predictions, targets = {}, {}
    for element in dataset:
        out = as_output_dict(spec, model.predict_on_batch(element[0]))
        for name in spec.outputs:
            predictions.setdefault(name, []).append(np.asarray(out[name]))
            targets.setdefault(name, []).append(np.asarray(element[1][name]))
    result = {}
    for name, out in spec.outputs.items():
        target = preprocessor.targets[name]
        y_true = target.decode_targets(np.concatenate(targets[name]))
        result[name] = HEADS.get(out.type).evaluation(out, target, y_true, np.concatenate(predictions[name]))
    return result
