"""Resolving and checking the file paths of a table column, before any file is read."""

import os

import numpy as np

from mmkeras.errors import DataError
from mmkeras.data.columns import as_strings


def row_error(row, table, column, message):
    """A DataError that starts like every table error: "Row R of T, column 'C': ...".

    Example:

    >>> str(row_error(3, "train.csv", "image_path", "file not found: a.png"))
    "Row 3 of train.csv, column 'image_path': file not found: a.png"
    """
    return DataError(f"Row {row} of {table or 'the table'}, column {column!r}: {message}")


def absolute_path(value, root):
    """`value` itself when absolute, else joined to `root`.

    Example:

    >>> absolute_path("a.png", "/data"), absolute_path("/x/b.png", "/data")
    ('/data/a.png', '/x/b.png')
    """
    return value if os.path.isabs(value) else os.path.join(root, value)


def resolve_file_paths(column, *, root, table="", column_name="", kind="file"):
    """A column of file paths -> numpy object array of absolute paths, each checked to exist.

    An empty (or NaN) cell is a missing input: it stays "" (presence 0, decoded
    as zeros); a non-empty path that does not exist is an error.

    Args:
        column: the table column (strings; NaN counts as empty).
        root: folder that relative paths are taken from.
        table: name of the table, for messages.
        column_name: name of the column, for messages.
        kind: what the files are ("image", "audio"), for messages.

    Returns:
        A numpy object array of absolute paths.

    Raises:
        DataError: naming row, column and path, for a file that does not exist.

    Example:

    >>> paths = resolve_file_paths(splits["train"]["image_path"], root=data_dir, column_name="image_path")
    >>> all(os.path.isabs(path) and os.path.isfile(path) for path in paths)
    True
    """
    values = np.array([v.strip() for v in as_strings(column)], dtype=object)
    paths = np.array([absolute_path(v, root) if v else "" for v in values], dtype=object)
    for row, (value, path) in enumerate(zip(values, paths)):
        if value == "":
            continue  # a missing input
        if not os.path.isfile(path):
            raise row_error(row, table, column_name, f"file not found: {path}")
    return paths
