"""Output targets: class tables read from the training split, and target encoding."""

import numpy as np
import pandas as pd

from mmkeras.data.errors import DataError
from mmkeras.data.tables import as_strings


def _class_sort_key(value):
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


class ClassTarget:
    """A classification or binary target; `classes` are the values as written in the table.

    For binary outputs `classes` is `[negative, positive]`; the positive class
    is the spec's `positive`, or else the second of the two sorted values.
    """

    def __init__(self, spec):
        self.spec = spec
        self.classes = []

    def adapt(self, column_values):
        values = as_strings(column_values)
        values = values[values != ""]
        classes = sorted(set(values.tolist()), key=_class_sort_key)
        if self.spec.type == "binary":
            if len(classes) != 2 and not (self.spec.positive and len(classes) == 1):
                raise DataError(f"Output {self.spec.name!r} is binary but column {self.spec.column!r} "
                                f"has {len(classes)} values in the training split: {classes[:10]}")
            if self.spec.positive is not None:
                if self.spec.positive not in classes:
                    raise DataError(f"outputs.{self.spec.name}.positive: {self.spec.positive!r} is not one of "
                                    f"the values in column {self.spec.column!r}: {classes}")
                classes = [c for c in classes if c != self.spec.positive] + [self.spec.positive]
        elif len(classes) < 2:
            raise DataError(f"Output {self.spec.name!r}: column {self.spec.column!r} has fewer than two "
                            f"classes in the training split: {classes}")
        self.classes = classes
        return self

    @property
    def num_classes(self):
        return len(self.classes)

    def encode(self, column_values, table=""):
        """Class values -> int32 indices (float32 0/1 for binary); unknown values are a DataError."""
        values = as_strings(column_values)
        lookup = {c: i for i, c in enumerate(self.classes)}
        encoded = np.array([lookup.get(v, -1) for v in values], dtype=np.int32)
        bad = np.flatnonzero(encoded < 0)
        if bad.size:
            row = int(bad[0])
            raise DataError(f"Row {row} of {table or 'the table'}, column {self.spec.column!r}: "
                            f"{values[row]!r} is not a class seen in training ({self.classes[:20]}); "
                            f"{bad.size} such row(s)")
        if self.spec.type == "binary":
            return encoded.astype(np.float32)
        return encoded

    def get_state(self):
        return {"classes": list(self.classes)}

    def set_state(self, state):
        self.classes = list(state["classes"])


class RegressionTarget:
    """A numeric target; a missing value is a DataError naming the row."""

    def __init__(self, spec):
        self.spec = spec
        self.classes = []

    def adapt(self, column_values):
        return self

    def encode(self, column_values, table=""):
        values = pd.to_numeric(pd.Series(column_values), errors="coerce").to_numpy(np.float32)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            row = int(bad[0])
            raise DataError(f"Row {row} of {table or 'the table'}, column {self.spec.column!r}: "
                            f"{pd.Series(column_values).iloc[row]!r} is not a number; {bad.size} such row(s)")
        return values

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def make_target(spec):
    return RegressionTarget(spec) if spec.type == "regression" else ClassTarget(spec)
