"""The check before training: every row of a table source through `validate`'s checks, then `data.on_error`.

`on_error: raise` (the default) stops at the first split with a bad row,
before the run directory is made and before any epoch, with a DataError
naming row, column and file; `on_error: skip` drops the bad rows, and the
run lists them in `RUN_DIR/bad_rows.csv` (`write_bad_rows`) with a count per
reason. A problem of a whole column (missing, labels that cannot adapt)
cannot be skipped: it always raises.
"""

import collections
import os
import re

from mmkeras.data.sources.table import TableSource
from mmkeras.data.validate import RowChecker, bad_rows_frame, train_targets
from mmkeras.errors import DataError
from mmkeras.files import write_file, write_json

BAD_ROWS_FILE = "bad_rows.csv"
BAD_ROWS_SUMMARY = "bad_rows.json"


def reason_kind(reason):
    """What a bad row's reason says, without its values and paths: the key of the counts per reason.

    Example:

    >>> reason_kind("file not found: /data/a.png"), reason_kind("'twelve' is not a number")
    ('file not found', "'…' is not a number")
    >>> reason_kind("cannot read audio file /data/a.wav (not 16-bit PCM WAV, ...)")
    'cannot read audio file …'

    """
    head = re.sub(r"(?<!\S)/\S*", "…", re.split(r":| \(", str(reason), maxsplit=1)[0])  # absolute paths
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", head).strip()[:80] or "unknown"


def row_message(bad, table=""):
    """The one-line DataError text of a `BadRow`: "Row R of S split (T), column 'C', file F: reason".

    Example:

    >>> from mmkeras.data.validate import BadRow
    >>> row_message(BadRow("train", 4, "image_path", "b.png", "does not decode: Invalid PNG data"), "m.csv")
    "Row 4 of train split (m.csv), column 'image_path', file b.png: does not decode: Invalid PNG data"
    """
    where = f"{bad.split} split" + (f" ({table})" if table else "")
    head = f"Row {bad.row} of {where}" if bad.row is not None else f"The {where}"
    file = f", file {bad.file}" if bad.file else ""
    return f"{head}, column {bad.column!r}{file}: {bad.reason}"


def check_source(spec, source):
    """(source to train on, bad rows skipped): the rows of a table source checked as `mmkeras validate` does.

    Other sources (shards, TFDS: checked when written) come back as they are.

    Raises:
        DataError: the first bad row under `data.on_error: raise`; a whole-column problem
            or a split left empty under `skip`.

    Example:

    >>> source, bad = check_source(spec, mmkeras.data.sources.source_for(spec))
    >>> type(source).__name__, bad
    ('TableSource', [])
    """
    if not isinstance(source, TableSource):
        return source, []
    table = os.path.basename(spec.data.path or "")
    splits = {k: source.table(k) for k in source.split_names}
    checker = RowChecker(spec, root=source.root, targets={})
    bad = checker.check(splits["train"], "train") if "train" in splits else []
    _stop(spec, bad, table)
    kept = {k: _without(v, bad, k) for k, v in splits.items()}
    _check_left(kept, splits, ["train"], table)
    if "train" in kept:  # labels of the other splits: the classes of the train rows kept
        checker.targets, found = train_targets(spec, kept["train"])
        bad += found
    for split, df in splits.items():
        if split != "train":
            _stop(spec, bad, table)
            found = checker.check(df, split)
            bad += found
            kept[split] = _without(df, found, split)
    _stop(spec, bad, table)
    if not bad:
        return source, []
    _check_left(kept, splits, list(kept), table)
    return TableSource(source.spec, kept), bad


def _check_left(kept, splits, names, table):
    for split in names:
        if split in kept and len(kept[split]) == 0:
            raise DataError(f"Every row of the {split} split ({table}) is bad: {len(splits[split])} rows; "
                            "`mmkeras validate` lists them")


def _without(df, bad, split):
    """The rows of `df` (a split) that no `BadRow` of `split` names."""
    drop = sorted({b.row for b in bad if b.split == split and b.row is not None})
    return df.drop(index=df.index[drop]).reset_index(drop=True) if drop else df


def _stop(spec, bad, table):
    """Raises the first bad row under `on_error: raise`, or the first whole-column problem."""
    whole = [b for b in bad if b.row is None]
    if whole or (bad and spec.data.on_error == "raise"):
        first = (whole or bad)[0]
        more = f"{len(bad) - 1} more bad rows, `mmkeras validate` lists them all; " if len(bad) > 1 else ""
        skip = "" if whole else "data.on_error: skip drops bad rows"
        hint = f" ({more}{skip})".replace("; )", ")") if more or skip else ""
        raise DataError(row_message(first, table) + hint)


def bad_row_counts(bad):
    """{reason kind: rows} of the bad rows, most frequent first.

    Example:

    >>> from mmkeras.data.validate import BadRow
    >>> bad_row_counts([BadRow("train", 1, "a", "x", "file not found: x"), BadRow("test", 2, "a", "y", "file not found: y")])
    {'file not found': 2}
    """
    return dict(collections.Counter(reason_kind(b.reason) for b in bad).most_common())


def write_bad_rows(run_dir, bad):
    """Writes `bad_rows.csv` (split, row, column, file, reason) and `bad_rows.json` (counts) into a run directory.

    Returns the line a run prints about them.

    Example:

    >>> from mmkeras.data.validate import BadRow
    >>> write_bad_rows(tmp_dir, [BadRow("train", 1, "image_path", "x.png", "file not found: x.png")])
    'skipped 1 bad rows (data.on_error: skip): file not found 1; listed in bad_rows.csv'
    """
    frame = bad_rows_frame(bad)
    write_file(os.path.join(run_dir, BAD_ROWS_FILE), lambda path: frame.to_csv(path, index=False))
    counts = bad_row_counts(bad)
    write_json(os.path.join(run_dir, BAD_ROWS_SUMMARY), {"count": len(bad), "by_reason": counts})
    listed = ", ".join(f"{k} {v}" for k, v in counts.items())
    return f"skipped {len(bad)} bad rows (data.on_error: skip): {listed}; listed in {BAD_ROWS_FILE}"
