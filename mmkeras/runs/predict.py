"""`mmkeras predict`: an exported SavedModel run on a table of raw inputs."""

import importlib
import json
import os
import re

import numpy as np
import pandas as pd
import tensorflow as tf

from mmkeras.data.checks import explain_op_error
from mmkeras.data.columns import as_strings, check_columns
from mmkeras.data.sources.table import read_table
from mmkeras.data.validate import BadRow, bad_rows_frame
from mmkeras.data.video import read_clips
from mmkeras.errors import DataError
from mmkeras.export.archive import METADATA_FILE
from mmkeras.progress import track
from mmkeras.tasks.outputs import prediction_columns

FILE_TYPES = ("image", "audio")


def read_export_metadata(saved_model_dir):
    """The `assets.extra/mmkeras.json` of an export: its inputs, outputs and (for retrieval) task.

    Args:
        saved_model_dir: a folder written by `export_saved_model` (or `mmkeras export`).

    Returns:
        The parsed metadata dict.

    Raises:
        FileNotFoundError: the folder is not an mmkeras export.

    Example:

    >>> meta = read_export_metadata(os.path.join(run_dir, "saved_model"))
    >>> sorted(meta["inputs"])
    ['caption', 'colour', 'picture', 'reading', 'sound']
    """
    meta_path = os.path.join(saved_model_dir, "assets.extra", METADATA_FILE)
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"{saved_model_dir} is not an mmkeras export ({meta_path} missing)")
    with open(meta_path, encoding="utf-8") as f:
        return json.load(f)


def _file_bytes(column, root, table, column_name, bad=None):
    values = []
    for row, rel in enumerate(as_strings(column)):
        if rel.strip() == "":
            values.append(b"")  # a missing input: the export serves it (presence 0)
            continue
        path = rel if os.path.isabs(rel) else os.path.join(root, rel)
        if not os.path.isfile(path):
            if bad is None:
                raise DataError(f"Row {row} of {table}, column {column_name!r}: file not found: {path}")
            bad.append(BadRow("table", row, column_name, rel, f"file not found: {path}"))
            values.append(b"")
            continue
        with open(path, "rb") as fh:
            values.append(fh.read())
    return np.array(values, dtype=object)


def serving_inputs(inputs, df, root, table="", bad=None):
    """The raw values an export's `serving_default` takes, read from the rows of a table.

    Image and audio columns become file bytes (relative paths resolve
    against `root`; an empty cell stays empty: a missing input), video
    columns frame stacks (`read_clips`), numeric columns float32 (NaN for
    what is not a number), the others strings.

    Args:
        inputs: `{input name: {"type": ..., "column": ...}}` (an export's metadata `inputs`).
        df: the table.
        root: folder of relative file paths.
        table: the table's name in messages.
        bad: a list to add a `BadRow` to for each file not found (None: raise a DataError).

    Returns:
        `{input name: numpy array [rows]}`.

    Example:

    >>> inputs = {"reading": {"type": "numeric", "column": "reading"}}
    >>> serving_inputs(inputs, pd.DataFrame({"reading": [1.5, "x"]}), root=tmp_dir)["reading"].tolist()
    [1.5, nan]
    """
    check_columns(df, [i["column"] for i in inputs.values()], table)
    columns = {}
    for name, info in inputs.items():
        col = df[info["column"]]
        if info["type"] in FILE_TYPES:
            columns[name] = _file_bytes(col, root, table, info["column"], bad)
        elif info["type"] == "video":
            columns[name] = read_clips(col, root=root, table=table, column_name=info["column"])
        elif info["type"] == "numeric":
            columns[name] = pd.to_numeric(col, errors="coerce").to_numpy(np.float32)
        else:
            columns[name] = as_strings(col)
    return columns


def _prediction_columns(meta, results, index):
    """The prediction table from the served batches: each output's columns as its head names them."""
    table = pd.DataFrame(index=index)
    for name, info in meta["outputs"].items():
        for column, values in prediction_columns(name, info, results).items():
            table[column] = values
    return table


def predict_table(saved_model_dir, data, *, root=None, out=None, batch_size=64, read_options=None,
                  on_error="raise"):
    """Runs an exported SavedModel on a table of raw inputs; returns a DataFrame.

    Reads the input columns named in the export's metadata; file columns are
    read as bytes relative to `root` (default: the table's folder). Output
    columns: `<o>_label` and `<o>_prob_<class>` per class output,
    `<o>_labels` (joined) and `<o>_prob_<label>` per multilabel output, `<o>`
    per regression output, and what its head names for a type added with
    `register_head` (by default `<o>`). Written to `out` as CSV when given.

    Args:
        saved_model_dir: an export (`RUN_DIR/saved_model`).
        data: a table file (CSV, TSV, Parquet, JSONL) with the input columns.
        root: folder of relative file paths (default: the table's folder).
        out: CSV file to write, or None.
        batch_size: rows served at a time.
        read_options: options for the table reader (e.g. `sep`).
        on_error: "raise": a file not found or not decoded is a DataError naming row, column and
            file; "skip": such a row gets empty predictions and is listed in
            `table.attrs["bad_rows"]` (`BadRow`s) and, with `out`, in `<out>.bad_rows.csv`.

    Returns:
        The predictions, one row per table row.

    Example:

    >>> rows = os.path.join(tmp_dir, "rows.csv")
    >>> splits["test"].head(3).to_csv(rows, index=False)
    >>> preds = predict_table(os.path.join(run_dir, "saved_model"), rows, root=data_dir)
    >>> len(preds), "label_label" in preds
    (3, True)
    """
    meta = read_export_metadata(saved_model_dir)
    if meta.get("task"):  # a retrieval export: embeddings, no predictions
        raise DataError(f"{saved_model_dir} is a {meta['task']['type']} export: it has the signatures "
                        f"{', '.join(meta.get('signatures', {}))} (raw input -> embedding) and nothing to "
                        "predict; embed both sides and search with mmkeras.tasks.retrieval.top_k")
    df = read_table(data, read_options)
    root = root or os.path.dirname(os.path.abspath(data))
    for module in meta.get("serving_imports", []):  # e.g. tensorflow_text, the ops of a KerasHub tokenizer
        importlib.import_module(module)
    serve = tf.saved_model.load(saved_model_dir).signatures["serving_default"]
    bad = [] if on_error == "skip" else None
    columns = serving_inputs(meta["inputs"], df, root, data, bad)
    skipped = {b.row for b in bad or []}
    rows = np.array([r for r in range(len(df)) if r not in skipped], dtype=np.int64)
    results, served = [], []
    steps = -(-len(rows) // batch_size)
    for start in track(range(0, len(rows), batch_size), steps, f"predict {len(df)} rows", unit="batches"):
        part = rows[start:start + batch_size]
        batch = {n: tf.constant(v[part]) for n, v in columns.items()}
        try:
            results.append({k: v.numpy() for k, v in serve(**batch).items()})
            served.extend(part.tolist())
        except tf.errors.OpError as e:
            if bad is None:
                raise explain_serving_error(e, serve, columns, meta, df, data, part.tolist()) from None
            _serve_one_by_one(serve, columns, meta, df, part, results, served, bad)
    if bad and not served:
        raise DataError(f"No row of {data} could be predicted: {len(bad)} bad rows, e.g. row {bad[0].row}, "
                        f"column {bad[0].column!r}: {bad[0].reason}")
    table = _prediction_columns(meta, results, df.index[served]).reindex(df.index)
    if bad is not None:
        table.attrs["bad_rows"] = sorted(bad, key=lambda b: b.row)
    if out:
        table.to_csv(out, index=False)
        if bad:
            bad_rows_frame(table.attrs["bad_rows"]).to_csv(f"{out}.bad_rows.csv", index=False)
    return table


def _serve_one_by_one(serve, columns, meta, df, rows, results, served, bad):
    """Serves `rows` one at a time: answers go to `results` / `served`, failures to `bad` (`BadRow`s)."""
    for row in rows.tolist():
        one = {n: v[row:row + 1] for n, v in columns.items()}
        problem = _row_problem(serve, one, meta)
        if problem is None:
            results.append({k: v.numpy() for k, v in serve(**{n: tf.constant(v) for n, v in one.items()}).items()})
            served.append(row)
            continue
        column, reason = problem
        cell = "" if column is None else str(df[column].iloc[row])
        bad.append(BadRow("table", row, column or "", cell, f"cannot be decoded: {reason}"))


def explain_serving_error(error, serve, columns, meta, df, data, rows):
    """A DataError naming the row, column and file that made `serve` fail on a batch.

    Serves the batch's rows one by one; for the failing row, serves it again
    with each file input emptied (a missing input), and names the one whose
    removal makes it succeed.

    Args:
        error: the `tf.errors.OpError` the batch raised.
        serve: the `serving_default` signature.
        columns: `{input: raw values}` of the whole table (`serving_inputs`).
        meta: the export's metadata.
        df: the table; data: its name.
        rows: the indices of the batch's rows.

    Returns:
        A DataError (the caller raises it).

    Example:

    >>> error = tf.errors.InvalidArgumentError(None, None, "Graph execution error: boom")
    >>> print(explain_serving_error(error, None, {}, {"inputs": {}}, pd.DataFrame(), "t.csv", range(0)))
    The input pipeline failed: ...boom
    """
    detail = op_message(error)
    for row in rows:
        if row >= len(df):
            break
        problem = _row_problem(serve, {n: v[row:row + 1] for n, v in columns.items()}, meta)
        if problem is None:
            continue
        column, detail = problem
        if column is not None:
            return DataError(f"Row {row} of {data}, column {column!r}, file {df[column].iloc[row]}: "
                             f"cannot be decoded: {detail}", debug=getattr(error, "message", None))
        return DataError(f"Row {row} of {data}: the export failed on it: {detail}")
    return explain_op_error(error)


def _row_problem(serve, one, meta):
    """None when `serve` answers the one-row batch `one`, else (the file column to blame or None, reason).

    The column is the file input whose emptying (a missing input) makes the row serve.
    """
    try:
        serve(**{n: tf.constant(v) for n, v in one.items()})
        return None
    except tf.errors.OpError as e:
        detail = op_message(e)
    for name in [n for n, info in meta["inputs"].items() if info["type"] in FILE_TYPES]:
        try:
            serve(**{n: tf.constant(np.array([b""], object) if n == name else v) for n, v in one.items()})
        except tf.errors.OpError:
            continue
        return meta["inputs"][name]["column"], detail
    return None, detail


def op_message(error):
    """The informative line of a TensorFlow error (the assertion text when there is one).

    Example:

    >>> op_message(tf.errors.InvalidArgumentError(None, None, "assertion failed: [Not a PNG] [x]"))
    'Not a PNG x'
    """
    message = getattr(error, "message", str(error))
    for line in message.splitlines():
        line = line.strip()
        if line.startswith("assertion failed:"):
            return " ".join(re.findall(r"\[([^\]]+)\]", line)).rstrip(":") or line
    lines = [ln.strip() for ln in message.splitlines()
             if ln.strip() and not ln.strip().startswith(("Graph execution error", "Detected at node", "<stack", "[["))]
    return (lines[0] if lines else message.strip())[:300]
