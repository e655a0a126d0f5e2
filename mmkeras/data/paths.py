"""Resolving and checking the file paths of a table column, before any file is read."""

import os

import numpy as np

from mmkeras.errors import DataError
from mmkeras.data.sources.table import as_strings


def row_error(row, table, column, message):
    """A DataError that starts like every table error: "Row R of T, column 'C': ..."."""
    return DataError(f"Row {row} of {table or 'the table'}, column {column!r}: {message}")


def absolute_path(value, root):
    """`value` itself when absolute, else joined to `root`."""
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

    >>> resolve_file_paths(df["image_path"], root="data", table="train.csv", column_name="image_path")
    """
    values = np.array([v.strip() for v in as_strings(column)], dtype=object)
    paths = np.array([absolute_path(v, root) if v else "" for v in values], dtype=object)
    for row, (value, path) in enumerate(zip(values, paths)):
        if value == "":
            continue  # a missing input
        if not os.path.isfile(path):
            raise row_error(row, table, column_name, f"file not found: {path}")
    return paths
