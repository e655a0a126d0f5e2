"""Retrieval run directories: train a dual encoder end to end, evaluate recall@k."""

import os
import warnings

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from mmkeras.data import DataError, Preprocessor, load_splits, make_dataset
from mmkeras.data.checks import explain_op_error
from mmkeras.data.presence import is_missing_cell
from mmkeras.data.sources.table import data_root
from mmkeras.tasks.retrieval.endpoints import export_retrieval_model
from mmkeras.tasks.retrieval.metrics import format_retrieval, retrieval_metrics
from mmkeras.tasks.retrieval.model import build_dual_encoder
from mmkeras.specs import load_spec


def paired_rows(spec, df):
    """The rows of `df` where both inputs of the pair are present, and how many were dropped.

    A row with an empty path, an empty string or NaN on either side is no
    positive pair, so it is left out of training and evaluation.

    Example:

    >>> kept, dropped = paired_rows(spec, splits["train"])
    """
    keep = np.ones(len(df), dtype=bool)
    for name in spec.task.pair:
        column = df[spec.inputs[name].column]
        keep &= ~np.array([is_missing_cell(v) for v in column.tolist()], dtype=bool)
    return df[keep].reset_index(drop=True), int((~keep).sum())


def embed_table(model, preprocessor, df, *, root=None, table="", batch_size=None):
    """Both towers' embeddings of every row of a table: {input: float32 `[rows, dim]`}.

    Example:

    >>> emb = embed_table(model, pre, splits["test"])
    >>> emb["picture"].shape
    (90, 64)
    """
    spec = preprocessor.spec
    ds = make_dataset(spec, df, preprocessor, with_targets=False, root=root, table=table, batch_size=batch_size)
    predictions = model.predict(ds, verbose=0)
    return {name: np.asarray(predictions[name], dtype=np.float32) for name in spec.task.pair}


def evaluate_retrieval(model, preprocessor, df, *, root=None, table=""):
    """`{"retrieval": metrics}` of a table: both directions' recall@1/5/10, median rank, chance.

    Rows missing either input are left out. Duplicated items (several rows
    with the same raw value, e.g. the same name) count as hits for each
    other; see `mmkeras.tasks.retrieval.metrics`.

    Example:

    >>> evaluate_retrieval(model, pre, splits["test"])["retrieval"]["picture_to_name_recall@1"]
    0.41
    """
    spec = preprocessor.spec
    df, dropped = paired_rows(spec, df)
    if len(df) == 0:
        raise DataError(f"{table or 'the table'}: no row has both {list(spec.task.pair)}")
    embeddings = embed_table(model, preprocessor, df, root=root, table=table)
    raw = preprocessor.raw_columns(df, root=root or data_root(spec), table=table)
    metrics = retrieval_metrics(embeddings, {n: raw[n] for n in spec.task.pair})
    metrics["rows_without_pair"] = dropped
    metrics["temperature"] = float(1.0 / keras.ops.convert_to_numpy(model.logit_scale()))
    return {"retrieval": metrics}


class _TemperatureLog(keras.callbacks.Callback):
    """Adds the current temperature to each epoch's logs (and so to history.csv)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["temperature"] = float(1.0 / keras.ops.convert_to_numpy(self.model.logit_scale()))


def train_retrieval_run(spec, out_dir, *, data=None, root=None, overwrite=False, epochs=None, verbose=True):
    """Trains a retrieval spec's dual encoder and writes a complete run directory.

    Writes `spec.json`, `preprocessor/`, `model.keras` (the `DualEncoder`),
    `history.csv` (loss, in-batch pair accuracy, temperature per epoch),
    `metrics.json` (`{split: {"retrieval": {"<a>_to_<b>_recall@k": ...}}}`
    for validation and test) and `saved_model/` (signatures
    `embed_<a>`, `embed_<b>`). `mmkeras.runs.lifecycle.train_run` calls this when the
    spec has a `task`.

    Args:
        spec: a Spec, spec file or dict with `task: {type: retrieval, pair: [a, b]}`.
        out_dir: the run directory; must not exist or be empty unless `overwrite`.
        data, root: another table / file root than the spec's.
        epochs: override `training.epochs`.

    Returns:
        The metrics dict.

    Example:

    >>> metrics = train_retrieval_run("data_specs/openmoji_retrieval.yaml", "runs/openmoji_retrieval")
    >>> metrics["test"]["retrieval"]["picture_to_name_recall@10"]
    """
    from mmkeras.runs.lifecycle import MODEL_FILE, PREPROCESSOR_DIR, _claim_directory, _write_json
    from mmkeras.training import EpochLog

    say = print if verbose else (lambda *a, **k: None)
    spec = load_spec(spec)
    if data is not None or root is not None:
        spec = spec.with_data(path=data, root=root)
    if spec.data.path and os.path.isdir(spec.data.path):
        raise DataError(f"{spec.source or spec.name}: data.path {spec.data.path} is a folder (shards?); "
                        "task: retrieval trains from a table (CSV, TSV, Parquet, JSONL)")
    splits = {}
    for split, df in load_splits(spec).items():
        if df is not None:
            df, dropped = paired_rows(spec, df)
            if dropped:
                say(f"{split}: {dropped} rows without both {list(spec.task.pair)} left out")
        splits[split] = df
    if len(splits["train"]) < 2:
        raise DataError(f"{spec.source or spec.name}: the train split has {len(splits['train'])} rows with both "
                         f"{list(spec.task.pair)}; contrastive training needs at least 2")
    _claim_directory(out_dir, overwrite)
    if spec.training.deterministic:
        tf.config.experimental.enable_op_determinism()
    say(f"{spec.name}: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items() if v is not None) + " pairs")
    pre = Preprocessor(spec).adapt(splits["train"])
    model = build_dual_encoder(spec, pre)
    train_ds = make_dataset(spec, splits["train"], pre, training=True, with_targets=False, table="train split")
    val_ds = None
    if splits["validation"] is not None and len(splits["validation"]) > 1:
        val_ds = make_dataset(spec, splits["validation"], pre, with_targets=False, table="validation split")
    n_epochs = epochs or spec.training.epochs
    say(f"training a dual encoder {spec.task.pair[0]} <-> {spec.task.pair[1]}, {model.count_params():,} "
        f"parameters, {n_epochs} epochs (XLA {'on' if model.jit_compile else 'off'})")
    callbacks = [_TemperatureLog()] + ([EpochLog()] if verbose else [])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            history = model.fit(train_ds, validation_data=val_ds, epochs=n_epochs, verbose=0, callbacks=callbacks)
    except tf.errors.OpError as e:
        raise explain_op_error(e, pre, [(f"{k} split", v) for k, v in splits.items() if v is not None]) from None
    _write_json(os.path.join(out_dir, "spec.json"), spec.to_dict())
    pre.save(os.path.join(out_dir, PREPROCESSOR_DIR))
    model.save(os.path.join(out_dir, MODEL_FILE))
    pd.DataFrame(history.history).rename_axis("epoch").to_csv(os.path.join(out_dir, "history.csv"))
    metrics = {split: evaluate_retrieval(model, pre, splits[split], table=f"{split} split")
               for split in ("validation", "test") if splits[split] is not None and len(splits[split]) > 0}
    _write_json(os.path.join(out_dir, "metrics.json"), metrics)
    for line in format_retrieval(metrics):
        say(line)
    export_retrieval_model(model, pre, os.path.join(out_dir, "saved_model"), overwrite=overwrite)
    say(f"run written to {out_dir}")
    return metrics
