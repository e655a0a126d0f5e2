"""Group-aware splitting: every group's rows (a speaker's, a patient's) land in one split or one fold.

`group_split` cuts rows into parts of given fractions, `group_folds` deals
them into leave-groups-out folds. Both keep each group whole, are seeded, and
are stratified by a label where the groups allow it (a greedy assignment that
keeps each part's per-label row counts closest to its share, in the spirit of
scikit-learn's StratifiedGroupKFold, without depending on it).
"""

import numpy as np
import pandas as pd

from mmkeras.errors import DataError


def group_values(values, column, table=""):
    """A column's group names as strings; a DataError naming the first row without one.

    Example:

    >>> group_values(pd.Series(["ann", "bob", 3]), "speaker").tolist()
    ['ann', 'bob', '3']
    >>> group_values(pd.Series(["ann", None]), "speaker", "t.csv")
    Traceback (most recent call last):
    ...
    mmkeras.errors.DataError: Table t.csv, row 1, column 'speaker': no group (empty value); every row needs one to be split by group
    """
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(pd.Series(values).tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == "":
            raise DataError(f"Table {table or '(DataFrame)'}, row {i}, column {column!r}: no group (empty value); "
                            "every row needs one to be split by group")
        out[i] = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
    return out


def _counts(groups, labels):
    """(group names in first-seen order, [groups, labels] row-count matrix)."""
    names = list(pd.unique(groups))
    row_group = pd.Index(names).get_indexer(groups)
    if labels is None:
        label_index, n_labels = np.zeros(len(groups), dtype=np.int64), 1
    else:
        values = list(pd.unique(labels))
        label_index, n_labels = pd.Index(values).get_indexer(labels), len(values)
    counts = np.zeros((len(names), n_labels))
    np.add.at(counts, (row_group, label_index), 1.0)
    return names, row_group, counts


def _assign(counts, fractions, rng, required=None):
    """The part of each group: groups in seeded random order, each to the part it best keeps on its share.

    The first `required` parts (default: all) with a positive fraction get at least one group.
    """
    totals = counts.sum(axis=0)
    targets = np.outer(np.asarray(fractions, dtype=float), totals)  # [parts, labels]
    filled = np.zeros_like(targets)
    part = np.full(len(counts), -1)
    required = len(fractions) if required is None else required
    wanted = [k for k, f in enumerate(fractions[:required]) if f > 0]
    order = rng.permutation(len(counts))
    for g in order:
        # the growth of sum((filled - targets)^2) when group g joins part k; lower is better
        cost = ((2 * (filled - targets) + counts[g]) * counts[g]).sum(axis=1)
        cost[[k for k in range(len(fractions)) if fractions[k] <= 0]] = np.inf
        k = int(np.argmin(cost))
        part[g] = k
        filled[k] += counts[g]
    for k in wanted:  # a part left empty takes the smallest group of the part with the most groups
        if not (part == k).any():
            donors = list(range(required, len(fractions))) + wanted  # the left-out part gives first
            donor = max(donors, key=lambda j: (part == j).sum())
            members = np.flatnonzero(part == donor)
            part[members[np.argmin(counts[members].sum(axis=1))]] = k
    return part


def group_split(groups, labels, fractions, seed, *, column="group", table=""):
    """Splits rows into len(fractions) parts of whole groups: about the fractions of rows, stratified, seeded.

    Args:
        groups: per-row group names (strings).
        labels: per-row labels to stratify by, or None.
        fractions: the fraction of rows of each part (summing to at most 1;
            what they leave goes nowhere, as in a fraction split).
        seed: the seed of the group order.
        column, table: the group column and table, for error messages.

    Returns:
        A list of sorted row-index arrays, one per fraction; no group is in two.

    Example:

    >>> groups = np.array(["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"], dtype=object)
    >>> train, test = group_split(groups, None, [0.8, 0.2], seed=0)
    >>> sorted(set(groups[train])), sorted(set(groups[test]))
    (['a', 'c', 'd', 'e'], ['b'])
    """
    groups = np.asarray(groups, dtype=object)
    names, row_group, counts = _counts(groups, labels)
    wanted = sum(1 for f in fractions if f > 0)
    if len(names) < wanted:
        raise DataError(f"Table {table or '(DataFrame)'}, column {column!r}: {len(names)} group(s) "
                        f"({', '.join(map(str, names[:10]))}) cannot fill {wanted} splits; a group split needs at "
                        "least one group per split")
    rest = 1.0 - float(sum(fractions))  # rows the fractions leave out: a part of their own, dropped
    parts = list(fractions) + ([rest] if rest > 1e-9 else [])
    part = _assign(counts, parts, np.random.default_rng(seed), required=len(fractions))
    return [np.flatnonzero(part[row_group] == k) for k in range(len(fractions))]


def group_folds(groups, labels, folds, seed, *, column="group", table=""):
    """Leave-groups-out folds: the fold of each row, and the group names of each fold.

    Each group's rows are in one fold; folds are stratified by `labels` where
    the groups allow it and seeded. With `folds` equal to the number of
    groups every fold holds out one group (leave-one-group-out).

    Args:
        groups: per-row group names (strings).
        labels: per-row labels to stratify by, or None.
        folds: the number of folds, >= 2 and at most the number of groups.
        seed: the seed of the group order.
        column, table: the group column and table, for error messages.

    Returns:
        (an int array [rows] of folds, a list of sorted group-name lists, one per fold).

    Example:

    >>> assignment, names = group_folds(np.array(["a", "a", "b", "c", "c"]), None, 3, seed=0)
    >>> sorted(names)
    [['a'], ['b'], ['c']]
    """
    groups = np.asarray(groups, dtype=object)
    names, row_group, counts = _counts(groups, labels)
    if len(names) < folds:
        raise DataError(f"Table {table or '(DataFrame)'}, column {column!r}: {len(names)} group(s) "
                        f"({', '.join(map(str, names[:10]))}) cannot make {folds} leave-groups-out folds; "
                        f"use --folds {len(names)} or fewer")
    rng = np.random.default_rng(seed)
    if len(names) == folds:
        part = rng.permutation(folds)
    else:
        part = _assign(counts, [1.0 / folds] * folds, rng)
    fold_names = [sorted(str(names[g]) for g in np.flatnonzero(part == k)) for k in range(folds)]
    return part[row_group].astype(np.int64), fold_names


def check_shared_groups(parts, column, table=""):
    """A DataError when a group has rows in two of the parts (a dict {split: DataFrame or None}).

    Example:

    >>> parts = {"train": pd.DataFrame({"speaker": ["ann", "bob"]}), "test": pd.DataFrame({"speaker": ["bob"]})}
    >>> check_shared_groups(parts, "speaker", "t.csv")
    Traceback (most recent call last):
    ...
    mmkeras.errors.DataError: Table t.csv, column 'speaker': group(s) ['bob'] have rows in both the train and the test split; data.split.group keeps every group in one split, so give each group one value in data.split.column
    """
    seen = {}
    for name, df in parts.items():
        if df is None or not len(df):
            continue
        for value in set(group_values(df[column], column, f"{table} ({name} split)")):
            seen.setdefault(value, []).append(name)
    shared = sorted(v for v, names in seen.items() if len(names) > 1)
    if shared:
        a, b = seen[shared[0]][:2]
        raise DataError(f"Table {table or '(DataFrame)'}, column {column!r}: group(s) {shared[:10]} have rows in "
                        f"both the {a} and the {b} split; data.split.group keeps every group in one split, so "
                        "give each group one value in data.split.column")
