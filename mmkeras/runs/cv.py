"""Stratified k-fold cross-validation of a spec: `mmkeras cv SPEC --folds K`.

The spec's train and validation rows are pooled and cut into K folds
(stratified by the first classification or binary output, seeded by
`training.seed`); the test split, if the spec has one, is never used. Each
fold trains a fresh preprocessor and model on the other K - 1 folds and is
evaluated on the held-out fold. `cv.json` holds every fold's metrics and the
mean and standard deviation of every float metric over the folds.

With `--group-by COLUMN` (or the spec's `data.split.group`) the folds are
leave-groups-out: every group's rows (a speaker's, a patient's) are held out
together, so each fold measures the model on groups it never saw.
"""

import math
import os

import keras
import numpy as np
import pandas as pd

from mmkeras.data.columns import as_strings, check_columns
from mmkeras.data.sources import TableSource, source_for
from mmkeras.data.sources.split import group_folds, group_values
from mmkeras.distribute import plan_for
from mmkeras.errors import DataError, SpecError
from mmkeras.files import write_json
from mmkeras.reports.text import format_cv
from mmkeras.runs.lifecycle import evaluate_splits, train_model
from mmkeras.specs import load_spec
from mmkeras.tasks.outputs.heads import HEADS

CV_FILE = "cv.json"


def stratify_column(spec):
    """The column folds are stratified by (first classification/binary output), or None.

    Example:

    >>> stratify_column(spec)
    'label'
    """
    for out in spec.outputs.values():
        if HEADS.get(out.type).stratify:
            return out.column
    return None


def fold_assignment(labels, folds, seed=0, *, n=None):
    """The fold (0..folds-1) of each row: stratified by `labels` when given, seeded.

    Each class's rows are shuffled and dealt round-robin over the folds
    (starting where the previous class stopped), so every fold gets
    `count // folds` or one more row of each class and fold sizes differ by
    at most one. With `labels=None`, `n` rows are shuffled and dealt.

    Args:
        labels: per-row class values (strings), or None for plain k-fold.
        folds: number of folds, >= 2.
        seed: random seed.
        n: number of rows when `labels` is None.

    Returns:
        An int array `[rows]`.

    Example:

    >>> fold_assignment(np.array(["a", "a", "b", "b"]), 2, seed=0)
    array([0, 1, 0, 1])
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    rng = np.random.default_rng(seed)
    if labels is None:
        groups = [np.arange(n)]
        size = n
    else:
        labels = np.asarray(labels)
        size = len(labels)
        groups = [np.flatnonzero(labels == v) for v in sorted(pd.unique(labels))]
    assignment = np.empty(size, dtype=np.int64)
    start = 0
    for group in groups:
        group = rng.permutation(group)
        assignment[group] = (start + np.arange(len(group))) % folds
        start = (start + len(group)) % folds
    return assignment


def _pool(spec):
    """The spec's train and validation rows in one table (the test split is left out)."""
    source = source_for(spec)
    if source.table("train") is None:
        raise DataError(f"{spec.source or spec.name}: cross-validation splits the rows of a table, and this spec "
                        f"reads {source.description}: point data.path at a table (for shards, the table they "
                        "were written from)")
    parts = [source.table(k) for k in ("train", "validation") if k in source.split_names]
    return pd.concat(parts, ignore_index=True)


def _check_classes(spec, pool, labels, folds):
    column = stratify_column(spec)
    counts = pd.Series(labels).value_counts()
    rare = counts[counts < 2]
    if len(rare):
        raise DataError(f"{spec.data.path}, column {column!r}: class {rare.index[0]!r} has only "
                        f"{int(rare.iloc[0])} row in the train and validation splits; every class needs at "
                        f"least 2 rows so that each fold's training part sees it ({len(rare)} such class(es))")
    if len(pool) < folds:
        raise DataError(f"{spec.data.path}: {len(pool)} train and validation rows cannot make {folds} folds")


def _float_leaves(metrics, prefix=""):
    """{dotted path: value} of every float in a nested metrics dict (ints such as counts are skipped)."""
    out = {}
    for key, value in metrics.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_float_leaves(value, path + "."))
        elif isinstance(value, float):
            out[path] = value
    return out


def summarize(per_fold):
    """{output: {metric: {"mean", "std", "folds"}}} over the folds' metrics (std: population, ddof=0).

    Every float in the nested metrics is summarised under its dotted path
    (`accuracy`, `per_class.cat.f1`, ...); NaN values are left out.

    Example:

    >>> summarize([{"label": {"accuracy": 0.5}}, {"label": {"accuracy": 1.0}}])["label"]["accuracy"]
    {'mean': 0.75, 'std': 0.25, 'folds': 2}
    """
    summary = {}
    for metrics in per_fold:
        for output, values in metrics.items():
            for path, value in _float_leaves(values).items():
                if not math.isnan(value):
                    summary.setdefault(output, {}).setdefault(path, []).append(value)
    return {o: {p: {"mean": float(np.mean(v)), "std": float(np.std(v)), "folds": len(v)}
                for p, v in paths.items()}
            for o, paths in summary.items()}


def cross_validate(spec, folds=5, *, group_by=None, out=None, epochs=None, data=None, root=None,
                   overwrite=False, verbose=True, strategy=None):
    """K-fold cross-validation: a fresh preprocessor and model per fold.

    The spec's train and validation rows are pooled and split into `folds`
    folds, stratified by the first classification or binary output (plain
    k-fold otherwise) and seeded by `training.seed`; the spec's test split
    is left untouched. Fold k trains (`train_model`, no validation data) on
    the other folds and is evaluated on fold k.

    Args:
        spec: a Spec, spec file or dict (with `outputs`).
        folds: number of folds, >= 2 (with `group_by`, at most the number of
            groups; equal to it: leave-one-group-out).
        group_by: a column naming each row's group: leave-groups-out folds
            (each group's rows in one fold, stratified where the groups
            allow, seeded); default the spec's `data.split.group`.
        out: folder for `cv.json` (created; an existing `cv.json` in it is
            only replaced with `overwrite=True`); None writes nothing.
        epochs: override `training.epochs`.
        data, root: another table / file root than the spec's.
        overwrite: replace an existing `cv.json`.
        verbose: print per-epoch logs and the summary table.
        strategy: overrides `training.strategy` (`--strategy`); under
            `multi_worker` every worker trains each fold and the chief alone
            writes `cv.json`.

    Returns:
        A dict: `spec`, `folds`, `seed`, `stratify` (column or None),
        `group_by` (column or None), `rows`, `epochs`, `per_fold` (list of
        {fold, train_rows, test_rows, held_out_classes, held_out_groups
        (names, or None without `group_by`), metrics}), `summary` ({output:
        {metric: {mean, std, folds}}}), and `path` (the cv.json written, or None).

    Example:

    >>> result = cross_validate(spec, folds=2, verbose=False)
    >>> [f["fold"] for f in result["per_fold"]], sorted(result["summary"]["label"]["accuracy"])
    ([0, 1], ['folds', 'mean', 'std'])
    """
    say = print if verbose else (lambda *a, **k: None)
    spec = load_spec(spec)
    plan = plan_for(spec, strategy)  # first: multi_worker sets up its collectives before TensorFlow runs anything
    if not spec.outputs:
        raise SpecError(f"{spec.source or 'spec'}: outputs: cross-validation needs at least one output")
    if data is not None or root is not None:
        spec = spec.with_data(path=data, root=root)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    path = None if out is None else os.path.join(out, CV_FILE)
    if path is not None and os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; choose another --out or pass --overwrite.")
    pool = _pool(spec)
    column = stratify_column(spec)
    labels = as_strings(pool[column]) if column else None
    if labels is not None:
        _check_classes(spec, pool, labels, folds)
    elif len(pool) < folds:
        raise DataError(f"{spec.data.path}: {len(pool)} train and validation rows cannot make {folds} folds")
    group_by = group_by or spec.data.split.group
    fold_groups = [None] * folds
    if group_by is None:
        assignment = fold_assignment(labels, folds, spec.training.seed, n=len(pool))
    else:
        check_columns(pool, [group_by], spec.data.path)
        groups = group_values(pool[group_by], group_by, spec.data.path)
        assignment, fold_groups = group_folds(groups, labels, folds, spec.training.seed, column=group_by,
                                              table=spec.data.path)
    say(f"{spec.name}: {folds}-fold cross-validation on {len(pool)} train+validation rows"
        + (f", stratified by {column!r}" if column else "")
        + (f", leaving out whole groups of {group_by!r}" if group_by else ""))
    per_fold = [_fold(spec, pool, assignment, labels, k, folds, epochs=epochs, verbose=verbose, say=say, plan=plan,
                      groups=fold_groups[k])
                for k in range(folds)]
    result = {"spec": spec.name, "folds": folds, "seed": spec.training.seed, "stratify": column,
              "group_by": group_by, "rows": int(len(pool)), "epochs": epochs or spec.training.epochs,
              "per_fold": per_fold,
              "summary": summarize([f["metrics"] for f in per_fold])}
    path = path if plan.is_chief else None  # another worker of a multi_worker run: the chief writes cv.json
    if path is not None:
        os.makedirs(out, exist_ok=True)
        write_json(path, result)
    result["path"] = path
    for line in format_cv(result):
        say(line)
    if path:
        say(f"cv results written to {path}")
    return result


def _fold(spec, pool, assignment, labels, k, folds, *, epochs, verbose, say, plan=None, groups=None):
    """Trains fold k on the other folds (a fresh preprocessor and model) and evaluates it on fold k."""
    train_df = pool[assignment != k].reset_index(drop=True)
    held_df = pool[assignment == k].reset_index(drop=True)
    say(f"fold {k + 1}/{folds}: train {len(train_df)}, held out {len(held_df)} rows"
        + (f" (groups {', '.join(groups)})" if groups else ""))
    keras.backend.clear_session()
    trained = train_model(spec, TableSource(spec, {"train": train_df, "test": held_df}), epochs=epochs,
                          verbose=verbose, plan=plan)
    metrics = evaluate_splits(trained, ("test",))["test"]
    held_classes = (pd.Series(labels[assignment == k]).value_counts().sort_index().astype(int).to_dict()
                    if labels is not None else None)
    return {"fold": k, "train_rows": int(len(train_df)), "test_rows": int(len(held_df)),
            "held_out_classes": held_classes, "held_out_groups": groups, "metrics": metrics}
