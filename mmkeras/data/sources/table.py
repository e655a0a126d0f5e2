"""Reading a spec's table with pandas and splitting it into train/validation/test."""

import os

import numpy as np
import pandas as pd

from mmkeras.errors import DataError

_READERS = {
    ".csv": pd.read_csv, ".tsv": lambda p, **kw: pd.read_csv(p, **{"sep": "\t", **kw}),
    ".parquet": pd.read_parquet, ".pq": pd.read_parquet,
    ".jsonl": lambda p, **kw: pd.read_json(p, **{"lines": True, **kw}),
    ".json": pd.read_json,
}


def read_table(path, read_options=None):
    """Reads a CSV, TSV, Parquet or JSONL table into a DataFrame.

    Files with another extension are read as CSV (the options can set `sep`).

    Example:

    >>> df = read_table("demo_data/manifest.csv")
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Data table not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    reader = _READERS.get(ext, pd.read_csv)
    try:
        return reader(path, **dict(read_options or {}))
    except Exception as e:  # pandas raises many types; say which file and options
        raise DataError(f"Could not read table {path} with options {dict(read_options or {})}: {e}") from e


def as_strings(values):
    """Column -> numpy object array of str; NaN/None -> '', integral floats without '.0'."""
    series = pd.Series(values)
    out = np.empty(len(series), dtype=object)
    for i, v in enumerate(series.tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out[i] = ""
        elif isinstance(v, float) and v.is_integer():
            out[i] = str(int(v))
        else:
            out[i] = str(v)
    return out


def check_columns(df, columns, table=""):
    """Raises DataError naming the table and the missing columns."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"Table {table or '(DataFrame)'} has no column {', '.join(map(repr, missing))}; "
                        f"its columns are {list(map(str, df.columns))}")


def _stratify_column(spec, df):
    for out in spec.outputs.values():
        if out.type in ("classification", "binary") and out.column in df.columns:
            return as_strings(df[out.column])
    return None


def _fraction_split(index, labels, fractions, seed):
    """Splits `index` into len(fractions) parts, stratified by labels, seeded."""
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    groups = [index] if labels is None else [index[labels == v] for v in pd.unique(labels)]
    bounds = np.cumsum(fractions)
    for group in groups:
        group = rng.permutation(group)
        cuts = np.round(bounds * len(group)).astype(int)
        start = 0
        for k, cut in enumerate(cuts):
            parts[k].extend(group[start:cut])
            start = cut
    return [np.sort(np.asarray(p, dtype=index.dtype)) for p in parts]


def split_table(spec, df):
    """Splits a table by the spec's `data.split`.

    Returns:
        A dict with keys "train", "validation", "test"; a split the spec does
        not ask for is None. Fraction splits are stratified by the first
        classification or binary output and seeded by `training.seed`.

    Example:

    >>> splits = split_table(spec, read_table(spec.data.path))
    >>> len(splits["train"]) > 0
    True
    """
    split = spec.data.split
    seed = spec.training.seed
    labels = _stratify_column(spec, df)
    index = np.arange(len(df))
    out = {"train": None, "validation": None, "test": None}
    if split.column is None:
        names = [k for k in ("train", "validation", "test") if isinstance(getattr(split, k), float)]
        parts = _fraction_split(index, labels, [getattr(split, k) for k in names], seed)
        for name, part in zip(names, parts):
            out[name] = df.iloc[part].reset_index(drop=True)
        return out
    check_columns(df, [split.column], spec.data.path)
    column = as_strings(df[split.column])
    for name in ("train", "validation", "test"):
        value = getattr(split, name)
        if isinstance(value, str):
            out[name] = df[column == value].reset_index(drop=True)
            if len(out[name]) == 0:
                raise DataError(f"No row of {spec.data.path} has {split.column} == {value!r} "
                                f"(the {name} split); values present: {sorted(set(column))[:10]}")
    for name in ("validation", "test"):
        value = getattr(split, name)
        if isinstance(value, float):
            train = out["train"]
            train_labels = None if labels is None else _stratify_column(spec, train)
            keep, carved = _fraction_split(np.arange(len(train)), train_labels, [1 - value, value], seed)
            out["train"] = train.iloc[keep].reset_index(drop=True)
            out[name] = train.iloc[carved].reset_index(drop=True)
    return out


def load_splits(spec):
    """Reads the spec's table and splits it; see `split_table`."""
    if spec.data.path is None:
        raise DataError(f"{spec.source or 'spec'}: data.path is not set; give a table")
    return split_table(spec, read_table(spec.data.path, spec.data.read_options))


def data_root(spec):
    """Folder that file paths in the table are relative to."""
    if spec.data.root:
        return spec.data.root
    return os.path.dirname(os.path.abspath(spec.data.path)) if spec.data.path else os.getcwd()
