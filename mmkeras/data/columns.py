"""Table columns as the data layer reads them: cells as strings, required columns, the root of relative paths.

The features (`mmkeras.data.*`), the preprocessor and every source use these;
this module imports nothing else from mmkeras but the errors, so any of them
can import it.
"""

import os

import numpy as np
import pandas as pd

from mmkeras.errors import DataError


def as_strings(values):
    """A column -> a numpy object array of str; NaN/None -> '', integral floats without '.0'.

    Args:
        values: a pandas Series, list or array.

    Returns:
        A numpy array of Python strings, one per value.

    Example:

    >>> as_strings([1.0, float("nan"), "cat", 2.5]).tolist()
    ['1', '', 'cat', '2.5']
    """
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
    """Raises a DataError naming the table and the columns `df` lacks.

    Args:
        df: a DataFrame.
        columns: the column names it must have.
        table: the table's name in the message.

    Example:

    >>> check_columns(pd.DataFrame({"a": [1]}), ["a", "b"], "t.csv")
    Traceback (most recent call last):
    ...
    mmkeras.errors.DataError: Table t.csv has no column 'b'; its columns are ['a']
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"Table {table or '(DataFrame)'} has no column {', '.join(map(repr, missing))}; "
                        f"its columns are {list(map(str, df.columns))}")


def data_root(spec):
    """The folder that relative file paths in the spec's table resolve against.

    `data.root` when the spec sets it, else the folder of `data.path`, else
    the working directory.

    Example:

    >>> data_root(spec) == os.path.dirname(os.path.abspath(spec.data.path))
    True
    """
    if spec.data.root:
        return spec.data.root
    return os.path.dirname(os.path.abspath(spec.data.path)) if spec.data.path else os.getcwd()
