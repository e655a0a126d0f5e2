"""Run directories: train a spec end to end, evaluate, export and predict."""

import json
import os
import re

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from mmkeras.builders import build_model
from mmkeras.data import Preprocessor, load_splits, make_dataset, read_table
from mmkeras.data.checks import explain_op_error
from mmkeras.tasks.outputs.metrics import evaluate_model, format_metrics
from mmkeras.export.saved_model import METADATA_FILE, export_saved_model
from mmkeras.specs import load_spec
from mmkeras.training import fit

MODEL_FILE = "model.keras"
PREPROCESSOR_DIR = "preprocessor"


def _claim_directory(path, overwrite):
    if os.path.exists(path) and os.listdir(path) and not overwrite:
        raise FileExistsError(f"Run directory {path} exists and is not empty; choose another --out "
                              "or pass --overwrite.")
    os.makedirs(path, exist_ok=True)


def _write_json(path, payload):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1)
    os.replace(tmp, path)


def train_run(spec, out_dir, *, data=None, root=None, overwrite=False, epochs=None, verbose=True):
    """Trains a spec and writes a complete run directory.

    Writes `spec.json` (the resolved spec), `preprocessor/` (adapted state),
    `model.keras`, `history.csv`, `metrics.json` (`{split: {output:
    {metric: value}}}` for validation and test), `importance.csv` (modality
    importance on the test split, see `mmkeras.runs.importance`) and `saved_model/`.

    Args:
        spec: a Spec, spec file or dict.
        out_dir: the run directory; must not exist or be empty unless `overwrite`.
        data, root: another table / file root than the spec's.
        epochs: override `training.epochs`.

    Returns:
        The metrics dict.

    Example:

    >>> metrics = train_run("data_specs/demo.yaml", "runs/demo")
    """
    say = print if verbose else (lambda *a, **k: None)
    spec = load_spec(spec)
    if spec.task is not None:  # task: retrieval -> a contrastive dual encoder (mmkeras.tasks.retrieval)
        from mmkeras.tasks.retrieval import train_retrieval_run

        return train_retrieval_run(spec, out_dir, data=data, root=root, overwrite=overwrite, epochs=epochs,
                                   verbose=verbose)
    if data is not None or root is not None:
        spec = spec.with_data(path=data, root=root)
    from mmkeras.data.sources.shards.write import is_shard_folder

    if is_shard_folder(spec.data.path):  # data.path names a folder written by `mmkeras convert`
        from mmkeras.runs.shards import train_shard_run

        return train_shard_run(spec, out_dir, overwrite=overwrite, epochs=epochs, verbose=verbose)
    splits = load_splits(spec)
    _claim_directory(out_dir, overwrite)
    if spec.training.deterministic:
        tf.config.experimental.enable_op_determinism()
    say(f"{spec.name}: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items() if v is not None) + " rows")
    pre = Preprocessor(spec).adapt(splits["train"])
    model = build_model(spec, pre)
    train_ds = make_dataset(spec, splits["train"], pre, training=True, table="train split")
    val_ds = None
    if splits["validation"] is not None:
        val_ds = make_dataset(spec, splits["validation"], pre, table="validation split")
    say(f"training {model.count_params():,} parameters for {epochs or spec.training.epochs} epochs "
        f"(XLA {'on' if model.jit_compile else 'off'})")
    try:
        history = fit(model, spec, train_ds, val_ds, epochs=epochs, verbose=verbose)
    except tf.errors.OpError as e:
        raise explain_op_error(e, pre, [(f"{k} split", v) for k, v in splits.items() if v is not None]) from None
    _write_json(os.path.join(out_dir, "spec.json"), spec.to_dict())
    pre.save(os.path.join(out_dir, PREPROCESSOR_DIR))
    model.save(os.path.join(out_dir, MODEL_FILE))
    pd.DataFrame(history.history).rename_axis("epoch").to_csv(os.path.join(out_dir, "history.csv"))
    metrics = {split: evaluate_model(model, pre, splits[split], table=f"{split} split")
               for split in ("validation", "test") if splits[split] is not None}
    _write_json(os.path.join(out_dir, "metrics.json"), metrics)
    for line in format_metrics(metrics):
        say(line)
    held_out = splits["test"] if splits["test"] is not None else splits["validation"]
    if held_out is not None and spec.outputs:  # modality importance -> importance.csv
        from mmkeras.runs.importance import IMPORTANCE_FILE, format_importance, modality_importance

        importance = modality_importance(model, pre, held_out, table="held-out split")
        importance.to_csv(os.path.join(out_dir, IMPORTANCE_FILE), index=False)
        for line in format_importance(importance):
            say(line)
    export_saved_model(model, pre, os.path.join(out_dir, "saved_model"), overwrite=overwrite)
    say(f"run written to {out_dir}")
    return metrics


def load_run(run_dir):
    """(spec, preprocessor, model) of a run directory written by `train_run`."""
    for name in ("spec.json", MODEL_FILE, PREPROCESSOR_DIR):
        if not os.path.exists(os.path.join(run_dir, name)):
            raise FileNotFoundError(f"{run_dir} is not a run directory: {name} is missing")
    spec = load_spec(os.path.join(run_dir, "spec.json"))
    pre = Preprocessor.load(os.path.join(run_dir, PREPROCESSOR_DIR), spec=spec)
    model = keras.saving.load_model(os.path.join(run_dir, MODEL_FILE))
    return spec, pre, model


def evaluate_run(run_dir, *, data=None, root=None, out=None):
    """Metrics of a trained run on a table (default: the spec's validation and test splits).

    With `data`, the whole table is evaluated and written to `out` (default
    `RUN_DIR/evaluation_<table name>.json`); otherwise to `RUN_DIR/evaluation.json`.

    Example:

    >>> evaluate_run("runs/demo", data="holdout.csv", root="holdout/")
    """
    spec, pre, model = load_run(run_dir)
    from mmkeras.runs.shards import evaluate_shards_of_run

    shard_result = evaluate_shards_of_run(spec, pre, model, run_dir, data=data, out=out)
    if shard_result is not None:  # the run's data.path, or `data`, is a shard folder
        return shard_result
    if data is None:
        if root is not None:
            spec = spec.with_data(root=root)
        splits = load_splits(spec)
        tables = {k: splits[k] for k in ("validation", "test") if splits[k] is not None}
        default_out = os.path.join(run_dir, "evaluation.json")
    else:
        spec = spec.with_data(path=data, root=root)
        stem = os.path.splitext(os.path.basename(data))[0]
        tables = {stem: read_table(spec.data.path, spec.data.read_options)}
        default_out = os.path.join(run_dir, f"evaluation_{stem}.json")
    root = spec.data.root or os.path.dirname(spec.data.path)
    metrics = {}
    for name, df in tables.items():
        try:
            if spec.task is not None:  # retrieval: recall@k both ways, median rank
                from mmkeras.tasks.retrieval import evaluate_retrieval

                metrics[name] = evaluate_retrieval(model, pre, df, root=root, table=name)
            else:
                metrics[name] = evaluate_model(model, pre, df, root=root, table=name)
        except tf.errors.OpError as e:
            raise explain_op_error(e, pre, [(name, df)], root=root) from None
    _write_json(out or default_out, metrics)
    return metrics, out or default_out


def export_run(run_dir, out=None, *, overwrite=False):
    """Exports a run's model and preprocessor as a SavedModel (default `RUN_DIR/saved_model`)."""
    _, pre, model = load_run(run_dir)
    return export_saved_model(model, pre, out or os.path.join(run_dir, "saved_model"), overwrite=overwrite)


def predict_table(saved_model_dir, data, *, root=None, out=None, batch_size=64, read_options=None):
    """Runs an exported SavedModel on a table of raw inputs; returns a DataFrame.

    Reads the input columns named in the export's metadata; file columns are
    read as bytes relative to `root` (default: the table's folder). Output
    columns: `<o>_label` and `<o>_prob_<class>` per class output,
    `<o>_labels` (joined) and `<o>_prob_<label>` per multilabel output, `<o>`
    per regression output. Written to `out` as CSV when given.

    Example:

    >>> predict_table("runs/demo/saved_model", "new_rows.csv", out="preds.csv")
    """
    meta_path = os.path.join(saved_model_dir, "assets.extra", METADATA_FILE)
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"{saved_model_dir} is not an mmkeras export ({meta_path} missing)")
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("task"):  # a retrieval export: embeddings, no predictions
        from mmkeras.data import DataError

        raise DataError(f"{saved_model_dir} is a {meta['task']['type']} export: it has the signatures "
                        f"{', '.join(meta.get('signatures', {}))} (raw input -> embedding) and nothing to "
                        "predict; embed both sides and search with mmkeras.tasks.retrieval.top_k")
    df = read_table(data, read_options)
    root = root or os.path.dirname(os.path.abspath(data))
    serve = tf.saved_model.load(saved_model_dir).signatures["serving_default"]
    from mmkeras.data.sources.table import as_strings, check_columns

    check_columns(df, [i["column"] for i in meta["inputs"].values()], data)
    columns = {}
    for name, info in meta["inputs"].items():
        col = df[info["column"]]
        if info["type"] in ("image", "audio"):
            values = []
            for row, rel in enumerate(as_strings(col)):
                if rel.strip() == "":
                    values.append(b"")  # a missing input: the export serves it (presence 0)
                    continue
                path = rel if os.path.isabs(rel) else os.path.join(root, rel)
                if not os.path.isfile(path):
                    from mmkeras.data import DataError
                    raise DataError(f"Row {row} of {data}, column {info['column']!r}: file not found: {path}")
                with open(path, "rb") as fh:
                    values.append(fh.read())
            columns[name] = np.array(values, dtype=object)
        elif info["type"] == "video":
            from mmkeras.data.video import read_clips

            columns[name] = read_clips(col, root=root, table=data, column_name=info["column"])
        elif info["type"] == "numeric":
            columns[name] = pd.to_numeric(col, errors="coerce").to_numpy(np.float32)
        else:
            columns[name] = as_strings(col)
    results = []
    for start in range(0, len(df), batch_size):
        batch = {n: tf.constant(v[start:start + batch_size]) for n, v in columns.items()}
        try:
            results.append({k: v.numpy() for k, v in serve(**batch).items()})
        except tf.errors.OpError as e:
            raise _explain_serving_error(e, serve, columns, meta, df, data, start, batch_size) from None
    table = pd.DataFrame(index=df.index)
    for name, info in meta["outputs"].items():
        if info["type"] in ("classification", "binary"):
            labels = np.concatenate([r[f"{name}_label"] for r in results])
            probs = np.concatenate([r[f"{name}_probabilities"] for r in results])
            table[f"{name}_label"] = [v.decode("utf-8") for v in labels]
            for i, cls in enumerate(info["classes"]):
                table[f"{name}_prob_{cls}"] = probs[:, i]
        elif info["type"] == "multilabel":
            labels = np.concatenate([r[f"{name}_labels"] for r in results])
            probs = np.concatenate([r[f"{name}_probabilities"] for r in results])
            table[f"{name}_labels"] = [v.decode("utf-8") for v in labels]
            for i, label in enumerate(info["classes"]):
                table[f"{name}_prob_{label}"] = probs[:, i]
        else:
            table[name] = np.concatenate([r[name] for r in results])
    if out:
        table.to_csv(out, index=False)
    return table


def _explain_serving_error(error, serve, columns, meta, df, data, start, batch_size):
    """A DataError naming the row, column and file that made `serve` fail on a batch.

    Serves the batch's rows one by one; for the failing row, serves it again
    with each file input emptied (a missing input), and names the one whose
    removal makes it succeed.
    """
    from mmkeras.data import DataError

    files = [n for n, info in meta["inputs"].items() if info["type"] in ("image", "audio")]
    detail = _op_message(error)
    for row in range(start, min(start + batch_size, len(df))):
        one = {n: v[row:row + 1] for n, v in columns.items()}
        try:
            serve(**{n: tf.constant(v) for n, v in one.items()})
            continue
        except tf.errors.OpError as e:
            detail = _op_message(e)
        for name in files:
            try:
                serve(**{n: tf.constant(np.array([b""], object) if n == name else v) for n, v in one.items()})
            except tf.errors.OpError:
                continue
            column = meta["inputs"][name]["column"]
            return DataError(f"Row {row} of {data}, column {column!r}, file {df[column].iloc[row]}: "
                             f"cannot be decoded: {detail}")
        return DataError(f"Row {row} of {data}: the export failed on it: {detail}")
    return explain_op_error(error)


def _op_message(error):
    """The informative line of a TensorFlow error (the assertion text when there is one)."""
    message = getattr(error, "message", str(error))
    for line in message.splitlines():
        line = line.strip()
        if line.startswith("assertion failed:"):
            return " ".join(re.findall(r"\[([^\]]+)\]", line)).rstrip(":") or line
    lines = [ln.strip() for ln in message.splitlines()
             if ln.strip() and not ln.strip().startswith(("Graph execution error", "Detected at node", "<stack", "[["))]
    return (lines[0] if lines else message.strip())[:300]
