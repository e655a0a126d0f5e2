"""Training, evaluating and exporting a run whose spec's `data.path` is a shard folder."""

import os

import numpy as np
import pandas as pd
import tensorflow as tf

from mmkeras.errors import DataError
from mmkeras.data.sources.shards.read import shard_dataset
from mmkeras.data.sources.shards.write import PREPROCESSOR_DIR, is_shard_folder, read_index

# Input options that do not change the stored tensors (only the model or training-time steps).
_MODEL_ONLY_KEYS = ("encoder", "augment")
# Output options that do not change the stored targets.
_TRAINING_ONLY_KEYS = ("loss_weight", "threshold")


def _differences(section, ours, theirs, skip):
    problems = []
    if list(ours) != list(theirs):
        return [f"{section}: the spec has {list(ours)}, the shards were written for {list(theirs)}"]
    for name, options in ours.items():
        for key in sorted(set(options) | set(theirs[name])):
            if key in skip or options.get(key) == theirs[name].get(key):
                continue
            problems.append(f"{section}.{name}.{key}: {options.get(key)!r} in the spec, "
                            f"{theirs[name].get(key)!r} in the shards")
    return problems


def check_shard_spec(spec, folder, index=None):
    """Raises DataError unless the spec's inputs and outputs are those the shards were written with.

    Encoders, fusion and training options may differ; anything that changes
    the stored tensors (columns, sizes, features, vocabularies...) may not.

    Example:

    >>> check_shard_spec(load_spec("my_spec.yaml"), "shards/demo")
    """
    index = index or read_index(folder)
    ours, theirs = spec.to_dict(), index["spec"]
    problems = _differences("inputs", ours["inputs"], theirs["inputs"], _MODEL_ONLY_KEYS)
    problems += _differences("outputs", ours.get("outputs", {}), theirs.get("outputs", {}), _TRAINING_ONLY_KEYS)
    if problems:
        raise DataError(f"{spec.source or 'spec'}: data.path {folder} holds shards written for another spec: "
                        + "; ".join(problems[:5]) + ". Convert again with `mmkeras convert` for this spec.")
    return index


def _check_model_inputs(model, index, folder):
    stored = index["structure"][0] if isinstance(index["structure"], list) else index["structure"]
    missing = [t.name for t in model.inputs if t.name not in stored]
    if missing:
        raise DataError(f"The model takes input(s) {missing} that the shards in {folder} do not hold "
                        f"(they have {sorted(stored)}); they were written by another mmkeras version: "
                        "convert again")


def shard_metrics(model, preprocessor, folder, split, *, batch_size=None):
    """{output: metrics} of a model on a split of a shard folder (predictions vs the stored targets).

    Example:

    >>> shard_metrics(model, pre, "shards/demo", "test")["label"]["accuracy"]
    0.97
    """
    from mmkeras.tasks.outputs import metrics as evaluation

    spec = preprocessor.spec
    ds = shard_dataset(folder, split, batch_size=batch_size or spec.training.batch_size, preprocessor=preprocessor)
    predictions, targets = {}, {}
    for element in ds:
        inputs, y = element[0], element[1]
        out = model.predict_on_batch(inputs)
        if not isinstance(out, dict):
            out = {next(iter(spec.outputs)): out}
        for name in spec.outputs:
            predictions.setdefault(name, []).append(np.asarray(out[name]))
            targets.setdefault(name, []).append(np.asarray(y[name]))
    result = {}
    for name, out in spec.outputs.items():
        target = preprocessor.targets[name]
        y_true, y = np.concatenate(targets[name]), np.concatenate(predictions[name])
        decode = getattr(target, "decode_predictions", None)
        if out.type == "binary":
            y = np.concatenate([1 - y.reshape(-1, 1), y.reshape(-1, 1)], axis=1)
        if out.type in ("classification", "binary"):
            result[name] = evaluation.classification_metrics(y_true, y, target.classes)
        elif out.type == "regression":
            if decode is not None:  # targets are stored normalised like the predictions
                y_true, y = decode(y_true), decode(y)
            result[name] = evaluation.regression_metrics(y_true, y)
        elif hasattr(evaluation, "multilabel_metrics"):
            result[name] = evaluation.multilabel_metrics(y_true, y, target.classes,
                                                         getattr(target, "thresholds", 0.5))
        else:
            raise DataError(f"outputs.{name}: no metrics for type {out.type!r} on shards")
    return result


def evaluate_shards_of_run(spec, preprocessor, model, run_dir, *, data=None, out=None):
    """`runs.evaluate_run` on shards: (metrics, path) when `data` (or else the run's data.path) is a
    shard folder, None otherwise (the caller then reads tables).

    Metrics of the validation and test splits go to `out` (default
    `RUN_DIR/evaluation.json`, or `RUN_DIR/evaluation_<folder name>.json` for `data`).

    Example:

    >>> metrics, path = evaluate_shards_of_run(spec, pre, model, "runs/demo")
    """
    from mmkeras.runs.lifecycle import _write_json

    folder = data if data is not None else spec.data.path
    if not is_shard_folder(folder):
        return None
    index = check_shard_spec(spec, folder)
    metrics = {split: shard_metrics(model, preprocessor, folder, split)
               for split in ("validation", "test") if split in index["splits"]}
    name = "evaluation.json" if data is None else f"evaluation_{os.path.basename(os.path.normpath(folder))}.json"
    path = out or os.path.join(run_dir, name)
    _write_json(path, metrics)
    return metrics, path


def train_shard_run(spec, out_dir, *, overwrite=False, epochs=None, verbose=True):
    """`runs.train_run` for a spec whose `data.path` is a shard folder (see `mmkeras convert`).

    Uses the preprocessor saved with the shards, trains on the train shards,
    validates on the validation shards, evaluates validation and test from
    the stored targets and exports the usual raw-input SavedModel.

    Example:

    >>> train_shard_run(load_spec("demo.yaml").with_data(path="shards/demo"), "runs/demo")
    """
    from mmkeras.builders import build_model
    from mmkeras.data.preprocessor import Preprocessor
    from mmkeras.tasks.outputs.metrics import format_metrics
    from mmkeras.export.saved_model import export_saved_model
    from mmkeras.runs.lifecycle import MODEL_FILE, _claim_directory, _write_json
    from mmkeras.training import fit

    say = print if verbose else (lambda *a, **k: None)
    folder = spec.data.path
    if getattr(spec, "task", None) is not None:
        raise DataError(f"{spec.source or 'spec'}: training a task ({spec.task.type}) from shards is not "
                        "supported; give the table in data.path")
    index = check_shard_spec(spec, folder)
    pre = Preprocessor.load(os.path.join(folder, PREPROCESSOR_DIR), spec=spec)
    _claim_directory(out_dir, overwrite)
    if spec.training.deterministic:
        tf.config.experimental.enable_op_determinism()
    splits = index["splits"]
    say(f"{spec.name}: shards in {folder}: " + ", ".join(f"{k} {v['count']}" for k, v in splits.items())
        + " examples")
    model = build_model(spec, pre)
    _check_model_inputs(model, index, folder)
    t = spec.training
    train_ds = shard_dataset(folder, "train", batch_size=t.batch_size, training=True, seed=t.seed,
                             deterministic=t.deterministic or None, preprocessor=pre)
    val_ds = None
    if "validation" in splits:
        val_ds = shard_dataset(folder, "validation", batch_size=t.batch_size, preprocessor=pre)
    if index["mode"] == "preprocessed" and any(f.decode_is_random or f.transform_is_random
                                               for f in pre.features.values()):
        say("note: these shards hold preprocessed tensors: random crops and augmentation do not run "
            "(convert with --mode raw to keep them)")
    say(f"training {model.count_params():,} parameters for {epochs or t.epochs} epochs "
        f"(XLA {'on' if model.jit_compile else 'off'}, from TFRecord shards)")
    history = fit(model, spec, train_ds, val_ds, epochs=epochs, verbose=verbose)
    _write_json(os.path.join(out_dir, "spec.json"), spec.to_dict())
    pre.save(os.path.join(out_dir, PREPROCESSOR_DIR))
    model.save(os.path.join(out_dir, MODEL_FILE))
    pd.DataFrame(history.history).rename_axis("epoch").to_csv(os.path.join(out_dir, "history.csv"))
    metrics = {split: shard_metrics(model, pre, folder, split) for split in ("validation", "test") if split in splits}
    _write_json(os.path.join(out_dir, "metrics.json"), metrics)
    for line in format_metrics(metrics):
        say(line)
    export_saved_model(model, pre, os.path.join(out_dir, "saved_model"), overwrite=overwrite)
    say(f"run written to {out_dir}")
    return metrics


__all__ = ["check_shard_spec", "evaluate_shards_of_run", "is_shard_folder", "shard_metrics", "train_shard_run"]
