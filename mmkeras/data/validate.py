"""Checking every row of a spec's table before training: what `mmkeras validate` runs.

Training stops at the first bad row it meets; `validate_spec` goes on and
lists them all, as `BadRow(split, row, column, file, reason)`:

* the spec's input and output columns are in the table;
* every input cell reads as its feature reads it (`Feature.resolve`:
  numbers parse, booleans are booleans, file paths exist, video folders
  hold frames, audio files that are not 16-bit WAV convert);
* a file path stays inside the data root (no `../..`, absolute path or
  symlink out of it) unless `data.allow_outside_root`;
* every file decodes as the pipeline decodes it (images, WAV clips at the
  spec's sample rate, video frames), unless `decode=False`;
* every output value is known: classes and labels seen in the train split,
  numbers for regression.

`row` is the row's position in the table as read (0-based, header not
counted; `ROW_COLUMN` carries it through the split), None for a problem of
a whole column. The checks are reusable one table at a time
(`validate_rows`), e.g. for a pre-pass that drops bad rows.
"""

import collections
import concurrent.futures
import os
import re

import numpy as np
import pandas as pd
import tensorflow as tf

from mmkeras.data.columns import as_strings, data_root
from mmkeras.data.preprocessor import FEATURES
from mmkeras.data.sources.shards.format import is_shard_folder
from mmkeras.data.sources.table import read_table, split_table
from mmkeras.data.targets import make_target
from mmkeras.errors import DataError
from mmkeras.progress import Progress
from mmkeras.specs import load_spec

BadRow = collections.namedtuple("BadRow", ["split", "row", "column", "file", "reason"])
BadRow.__doc__ = "A problem `validate_rows` found: split, table row (None: the whole column), column, file, reason."
ROW_COLUMN = "__mmkeras_row__"  # the row's position in the table as read, kept through `split_table`
DECODE_THREADS = 4
_ROW_PREFIX = re.compile(r"^Row \d+ of .*?, column '[^']*': ")


def _reason(error):
    """The message of a row error without its "Row R of T, column 'C': " prefix."""
    return _ROW_PREFIX.sub("", str(error)).strip()


def _rows(df):
    if ROW_COLUMN in df.columns:
        return [int(r) for r in df[ROW_COLUMN]]
    return list(range(len(df)))


def outside_root(cell, root):
    """True for a path that leads out of the data root: `../x.png`, an absolute path elsewhere, a symlink out.

    Example:

    >>> outside_root("../../etc/passwd", data_dir), outside_root("/etc/passwd", data_dir)
    (True, True)
    >>> outside_root(splits["test"]["image_path"][0], data_dir), outside_root("", data_dir)
    (False, False)
    """
    if not cell:
        return False
    root = os.path.realpath(root)
    return not os.path.realpath(os.path.join(root, cell)).startswith(root + os.sep)


def _resolve_column(feature, column, root, split, rows, allow_outside=False):
    """(resolved values, bad rows) of one input column: per cell only when the whole column fails."""
    bad = []
    if feature.is_file and feature.spec.type != "video" and not allow_outside:  # refused before any file is read
        cells = as_strings(column)
        outside = [i for i, cell in enumerate(cells) if outside_root(cell.strip(), root)]
        for i in outside:
            bad.append(BadRow(split, rows[i], feature.spec.column, cells[i], f"the path leaves the data root: "
                              f"{root} (data.allow_outside_root: true accepts it)"))
        column = column.copy()
        column.iloc[outside] = ""
    try:
        resolved = feature.resolve(column, root=root, table="")
    except DataError:
        resolved = np.empty(len(column), dtype=object)
        for i, cell in enumerate(column.tolist()):
            try:
                resolved[i] = feature.resolve(pd.Series([cell], dtype=object), root=root, table="")[0]
            except DataError as e:
                resolved[i] = None
                bad.append(BadRow(split, rows[i], feature.spec.column, _cell(cell, feature), _reason(e)))
    return resolved, bad


def _cell(cell, feature):
    return str(cell) if feature.is_file and not pd.isna(cell) else ""


def op_error_reason(error):
    """The line of a TensorFlow error that says what went wrong (not "Graph execution error", nodes, frames).

    Example:

    >>> op_error_reason(tf.errors.InvalidArgumentError(None, None, "Graph execution error:\\n\\nDetected at node x:\\n"
    ...                 '  File "a.py", line 1\\n\\nUnknown image file format.\\n\\t [[{{node x}}]]'))
    'Unknown image file format.'
    """
    message = getattr(error, "message", str(error))
    lines = [line.strip() for line in message.splitlines()]
    kept = [line for line in lines if line and not line.startswith(("Graph execution error", "Detected at node",
                                                                      "File ", "[[", "Traceback"))]
    text = kept[-1] if kept else (lines[0] if lines else "")
    text = re.sub(r"\s*\[\[\{\{node .*$|\s*\[Op:.*$", "", text).replace("\\'", "'")
    if text.startswith("assertion failed:"):  # "[Not a PNG...:] [file x]" -> "Not a PNG...: file x"
        text = " ".join(re.findall(r"\[([^\]]*)\]", text)) or text
    return text[:300]


def _decoder(feature):
    """A traced function: a resolved path -> its decoded tensor (raises what the pipeline would raise)."""
    scalar = tf.TensorSpec([], tf.string)

    @tf.function(input_signature=[scalar, scalar])
    def decode(path, context):
        return feature.decode(feature.read(path), context, training=False)

    return decode


def _decode_failures(decode, paths, progress):
    """{index: reason} of the non-empty resolved paths that `decode` (from `_decoder`) cannot decode."""

    def check(item):
        i, path = item
        try:
            if path:
                decode(tf.constant(path), tf.constant(f"file {path}"))
            return i, None
        except tf.errors.OpError as e:
            return i, op_error_reason(e)
        finally:
            progress.update()

    items = list(enumerate(paths))
    failures = {}
    if items:  # trace once before the threads share the function
        failures.update({i: r for i, r in [check(items[0])] if r})
    with concurrent.futures.ThreadPoolExecutor(DECODE_THREADS) as pool:
        failures.update({i: r for i, r in pool.map(check, items[1:]) if r})
    return failures


class RowChecker:
    """The checks of `validate_rows`, set up once (features, traced decoders, targets) for many tables.

    Args:
        spec: a Spec (or spec file or dict).
        root: folder of relative file paths (default: the spec's data root).
        targets: `{output: adapted target}` to check output values against
            (e.g. adapted on the train split); outputs left out are not checked.
        decode: also decode every file (slower; the other checks read no file).

    Example:

    >>> checker = RowChecker(spec, decode=False)
    >>> checker.check(splits["test"], "test")
    []
    """

    def __init__(self, spec, *, root=None, targets=None, decode=True):
        self.spec = load_spec(spec)
        self.root = root or data_root(self.spec)
        self.targets = dict(targets or {})
        self.decode = decode
        self.features = {n: FEATURES[i.type](i) for n, i in self.spec.inputs.items()}
        self.decoders = {}

    def check(self, df, split="table"):
        """The `BadRow`s of the rows of `df`, named `split`: missing columns, inputs, files, output values."""
        rows = _rows(df)
        wanted = [i.column for i in self.spec.inputs.values()] + [o.column for o in self.spec.outputs.values()]
        missing = [c for c in dict.fromkeys(wanted) if c not in df.columns]
        bad = [BadRow(split, None, c, "", f"column missing; the table has {[str(x) for x in df.columns]}")
               for c in missing]
        inputs = {n: i for n, i in self.spec.inputs.items() if i.column not in missing}
        files = sum(1 for i in inputs.values() if i.is_file) if self.decode else 0
        with Progress(len(df) * max(files, 1), f"validate {split}", unit="files" if files else "rows") as progress:
            for name, input_spec in inputs.items():
                bad += self._check_input(name, df[input_spec.column].reset_index(drop=True), split, rows, progress)
            for name, out in self.spec.outputs.items():
                if out.column not in missing and name in self.targets:
                    bad += _check_output(self.targets[name], df[out.column].reset_index(drop=True), split, rows)
            if not files:
                progress.update(len(df))
        return bad

    def _check_input(self, name, column, split, rows, progress):
        feature = self.features[name]
        resolved, bad = _resolve_column(feature, column, self.root, split, rows,
                                        self.spec.data.allow_outside_root)
        if feature.is_file and self.decode:
            if name not in self.decoders:
                self.decoders[name] = _decoder(feature)
            paths = ["" if p is None else str(p) for p in resolved]
            cells = column.tolist()
            for i, reason in sorted(_decode_failures(self.decoders[name], paths, progress).items()):
                bad.append(BadRow(split, rows[i], feature.spec.column, _cell(cells[i], feature),
                                  f"does not decode: {reason}"))
        return bad


def _check_output(target, column, split, rows):
    """Bad rows of an output column: values the target adapted on train cannot encode."""
    try:
        target.encode(column)
        return []
    except DataError:
        pass
    bad = []
    for i, cell in enumerate(column.tolist()):
        try:
            target.encode(pd.Series([cell]))
        except DataError as e:
            bad.append(BadRow(split, rows[i], target.spec.column, "", _reason(e)))
    return bad


def validate_rows(spec, df, *, split="table", root=None, targets=None, decode=True):
    """Checks every row of one table against a spec; returns the `BadRow`s found.

    Args:
        spec: a Spec (or spec file or dict).
        df: the rows (a DataFrame with the spec's columns).
        split: the name the bad rows carry (`"train"`, ...).
        root: folder of relative file paths (default: the spec's data root).
        targets: `{output: adapted target}` to check output values against
            (e.g. adapted on the train split); outputs left out are not checked.
        decode: also decode every file (slower; the other checks read no file).

    Returns:
        A list of `BadRow(split, row, column, file, reason)`, by column then row.

    Example:

    >>> bad_df = splits["test"].astype({"reading": object})
    >>> bad_df.loc[0, "reading"] = "twelve"
    >>> bad = validate_rows(spec, bad_df, split="test", decode=False)
    >>> [(b.row, b.column, b.reason) for b in bad]
    [(0, 'reading', "'twelve' is not a number")]
    """
    return RowChecker(spec, root=root, targets=targets, decode=decode).check(df, split)


def train_targets(spec, train_df, split="train"):
    """({output: target adapted on the train rows}, bad rows): an output that cannot adapt is a whole-column problem.

    Example:

    >>> targets, bad = train_targets(spec, splits["train"])
    >>> targets["label"].num_classes, bad
    (8, [])
    """
    targets, bad = {}, []
    for name, out in spec.outputs.items():
        if out.column not in train_df.columns:
            continue
        try:
            targets[name] = make_target(out).adapt(train_df[out.column])
        except (DataError, ValueError) as e:
            bad.append(BadRow(split, None, out.column, "", str(e)))
    return targets, bad


def validate_spec(spec, *, data=None, root=None, decode=True):
    """Checks every row of a spec's table, split by split; returns the `BadRow`s found (see the module).

    Args:
        spec: a Spec, spec file or dict.
        data: a table to check instead of the spec's `data.path`.
        root: the folder of relative file paths instead of the spec's.
        decode: also decode every file.

    Returns:
        A list of `BadRow`s, split by split (train, validation, test); empty when every row is good.

    Raises:
        DataError: the table cannot be read, or `data.path` is a shard folder.

    Example:

    >>> validate_spec(spec, decode=False)
    []
    """
    spec = load_spec(spec)
    if data is not None or root is not None:
        spec = spec.with_data(path=data, root=root)
    if spec.data.path is None:
        raise DataError(f"{spec.source or spec.name}: data.path is not set; give a table (--data)")
    if is_shard_folder(spec.data.path):
        raise DataError(f"{spec.data.path} is a shard folder: validate checks tables (shards were checked "
                        "when `mmkeras convert` wrote them)")
    df = read_table(spec.data.path, spec.data.read_options)
    df[ROW_COLUMN] = np.arange(len(df))
    bad = []
    try:
        splits = {k: v for k, v in split_table(spec, df).items() if v is not None}
    except DataError as e:  # no usable split: check the rows as one table, labels unchecked
        bad.append(BadRow("table", None, spec.data.split.column or "", "", str(e)))
        splits = {"table": df}
    targets = {}
    if "train" in splits:
        targets, found = train_targets(spec, splits["train"])
        bad += found
    checker = RowChecker(spec, targets=targets, decode=decode)
    for split, part in splits.items():
        bad += checker.check(part, split)
    return bad


def bad_rows_frame(bad):
    """The bad rows as a DataFrame (columns split, row, column, file, reason), e.g. for `--out bad_rows.csv`.

    Example:

    >>> print(bad_rows_frame([BadRow("test", 3, "image_path", "a.png", "file not found")]).to_string(index=False))
    split  row     column  file         reason
     test    3 image_path a.png file not found
    """
    frame = pd.DataFrame([b._asdict() for b in bad], columns=list(BadRow._fields))
    frame["row"] = frame["row"].astype("Int64")
    return frame


def format_bad_rows(bad, limit=50):
    """Aligned text lines: a header and one line per bad row (at most `limit`, then how many more).

    Example:

    >>> print("\\n".join(format_bad_rows([BadRow("test", 3, "image_path", "a.png", "file not found")])))
      split       row  column          file                            reason
      test          3  image_path      a.png                           file not found
    """
    lines = [f"  {'split':<10} {'row':>4}  {'column':<15} {'file':<31} reason"]
    for b in bad[:limit]:
        row = "-" if b.row is None else str(b.row)
        shown = b.file if len(b.file) <= 30 else "..." + b.file[-27:]
        lines.append(f"  {b.split:<10} {row:>4}  {b.column:<15} {shown:<31} {b.reason}")
    if len(bad) > limit:
        lines.append(f"  ... and {len(bad) - limit} more")
    return lines
