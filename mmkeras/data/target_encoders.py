"""Target encoders, one class per kind of target: how an output's column becomes what the model learns.

A target encoder is adapted on the training split (class tables, label
vocabularies, mean and std), then `encode`s a column into the model's
targets, gives the `truth` evaluation compares with, and decodes
predictions. `mmkeras.data.targets` registers them by kind and picks the
one an output's head names.
"""

import numpy as np
import pandas as pd

from mmkeras.data.columns import as_strings
from mmkeras.errors import DataError, SpecError


def _class_sort_key(value):
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def balanced_weights(counts):
    """`n / (k * count)` per class: each class then weighs as much in total (scikit-learn's "balanced").

    Classes with no example get weight 0 (no example carries it anyway).

    Example:

    >>> balanced_weights([3, 1])
    [0.6666666666666666, 2.0]
    """
    counts = np.asarray(counts, dtype=np.float64)
    n, k = counts.sum(), len(counts)
    return [float(n / (k * c)) if c > 0 else 0.0 for c in counts]


class Target:
    """The base of target encoders (of an output's `OutputSpec`): its column -> model targets, and back.

    Subclasses implement `adapt` and `encode`; by default `truth` (what
    evaluation compares with) is `encode`, predictions and stored targets
    decode to themselves, every example weighs 1 and there is no state.

    Example:

    >>> isinstance(NumericTarget(spec.outputs["label"]).adapt([1, 2]), Target)
    True
    """

    def __init__(self, spec):
        self.spec = spec
        self.classes = []

    @property
    def num_classes(self):
        """How many classes or labels (0 for numeric targets)."""
        return len(self.classes)

    def adapt(self, column_values):
        """Learns what encoding needs from the training split's column; returns self."""
        raise NotImplementedError

    def encode(self, column_values, table=""):
        """The column -> what the model is trained on (a DataError names a bad row)."""
        raise NotImplementedError

    def truth(self, column_values, table=""):
        """The column as evaluation compares it with decoded predictions (default: `encode`)."""
        return self.encode(column_values, table)

    def decode_predictions(self, predictions):
        """Model outputs (numpy or tensors) -> the values evaluation and the export use (default: unchanged)."""
        return predictions

    def decode_targets(self, encoded):
        """Stored targets (e.g. in shards) -> `truth` values (default: unchanged)."""
        return encoded

    def sample_weights(self, encoded):
        """Per-example weights `[n]` for `class_weight: balanced` (default: ones)."""
        return np.ones(len(encoded), np.float32)

    def get_state(self):
        """The adapted state, JSON-ready (saved with the preprocessor); `set_state` restores it."""
        return {}

    def set_state(self, state):
        pass


class ClassTarget(Target):
    """A classification target; `classes` are the values as written in the table, sorted.

    `class_weights` (from the training counts, see `balanced_weights`) are
    what `class_weight: balanced` gives each class.

    Example:

    >>> t = ClassTarget(spec.outputs["label"]).adapt(["b", "a", "b"])
    >>> t.classes, t.encode(["a", "b"])
    (['a', 'b'], array([0, 1], dtype=int32))
    """

    def __init__(self, spec):
        super().__init__(spec)
        self.class_weights = []

    def check_classes(self, classes):
        """The classes to use, in index order, from the sorted values of the training split."""
        if len(classes) < 2:
            raise DataError(f"Output {self.spec.name!r}: column {self.spec.column!r} has fewer than two "
                            f"classes in the training split: {classes}")
        return classes

    def adapt(self, column_values):
        values = as_strings(column_values)
        values = values[values != ""]
        self.classes = self.check_classes(sorted(set(values.tolist()), key=_class_sort_key))
        counts = pd.Series(values).value_counts()
        self.class_weights = balanced_weights([int(counts.get(c, 0)) for c in self.classes])
        return self

    def encode(self, column_values, table=""):
        """Class values -> int32 indices; unknown values are a DataError."""
        values = as_strings(column_values)
        lookup = {c: i for i, c in enumerate(self.classes)}
        encoded = np.array([lookup.get(v, -1) for v in values], dtype=np.int32)
        bad = np.flatnonzero(encoded < 0)
        if bad.size:
            row = int(bad[0])
            raise DataError(f"Row {row} of {table or 'the table'}, column {self.spec.column!r}: "
                            f"{values[row]!r} is not a class seen in training ({self.classes[:20]}); "
                            f"{bad.size} such row(s)")
        return encoded

    def sample_weights(self, encoded):
        """Per-example weights `[n]` for encoded targets: the weight of each example's class.

        Example:

        >>> t = ClassTarget(spec.outputs["label"]).adapt(["a", "a", "b"])
        >>> t.sample_weights(t.encode(["a", "b"])).tolist()
        [0.75, 1.5]
        """
        return np.asarray(self.class_weights, np.float32)[np.asarray(encoded).astype(np.int64).reshape(-1)]

    def get_state(self):
        return {"classes": list(self.classes), "class_weights": list(self.class_weights)}

    def set_state(self, state):
        self.classes = list(state["classes"])
        self.class_weights = list(state.get("class_weights", [1.0] * len(self.classes)))


class BinaryTarget(ClassTarget):
    """A binary target: `classes` is `[negative, positive]`, targets are float32 0/1.

    The positive class is the spec's `positive`, or else the second of the
    two sorted values.

    Example:

    >>> t = BinaryTarget(spec.outputs["label"]).adapt(["yes", "no", "no"])
    >>> t.classes, t.encode(["yes", "no"])
    (['no', 'yes'], array([1., 0.], dtype=float32))
    """

    def check_classes(self, classes):
        positive = self.spec.positive
        if len(classes) != 2 and not (positive and len(classes) == 1):
            raise DataError(f"Output {self.spec.name!r} is binary but column {self.spec.column!r} "
                            f"has {len(classes)} values in the training split: {classes[:10]}")
        if positive is not None:
            if positive not in classes:
                raise DataError(f"outputs.{self.spec.name}.positive: {positive!r} is not one of "
                                f"the values in column {self.spec.column!r}: {classes}")
            classes = [c for c in classes if c != positive] + [positive]
        return classes

    def encode(self, column_values, table=""):
        """Class values -> float32 0 (negative) / 1 (positive); unknown values are a DataError."""
        return super().encode(column_values, table).astype(np.float32)


class MultiLabelTarget(Target):
    """A multilabel target: each cell holds zero or more labels joined by the spec's `separator`.

    Labels are stripped of whitespace; an empty cell means no label. The
    vocabulary (`classes`, sorted like class values) is read from the
    training split; `encode` gives a float32 multi-hot `[n, labels]`.
    `pos_weights` / `neg_weights` are the balanced weights of a label's
    positives and negatives (`class_weight: balanced`).

    Example:

    >>> tags = mmkeras.specs.OutputSpec(name="tags", type="multilabel", column="tags")
    >>> t = MultiLabelTarget(tags).adapt(["a, b", "", "b"])
    >>> t.classes, t.encode(["b,a", ""]).tolist()
    (['a', 'b'], [[1.0, 1.0], [0.0, 0.0]])
    """

    def __init__(self, spec):
        super().__init__(spec)
        self.pos_weights = []
        self.neg_weights = []

    def split(self, column_values):
        """Each cell -> its list of labels (whitespace stripped, empty parts dropped).

        Example:

        >>> MultiLabelTarget(mmkeras.specs.OutputSpec(name="t", type="multilabel", column="t")).split(["a, b,", ""])
        [['a', 'b'], []]
        """
        sep = self.spec.separator
        return [[part.strip() for part in cell.split(sep) if part.strip()] for cell in as_strings(column_values)]

    def adapt(self, column_values):
        rows = self.split(column_values)
        classes = sorted({label for row in rows for label in row}, key=_class_sort_key)
        if not classes:
            raise DataError(f"Output {self.spec.name!r}: column {self.spec.column!r} has no labels in the "
                            f"training split (labels are separated by {self.spec.separator!r})")
        if isinstance(self.spec.threshold, dict):
            unknown = [label for label in self.spec.threshold if label not in classes]
            if unknown:
                raise SpecError(f"outputs.{self.spec.name}.threshold.{unknown[0]}: {unknown[0]!r} is not a label "
                                f"in column {self.spec.column!r} of the training split; labels: {classes[:30]}")
        self.classes = classes
        positives = self._multi_hot(rows).sum(axis=0)
        self.pos_weights, self.neg_weights = [], []
        for pos in positives:
            w_neg, w_pos = balanced_weights([len(rows) - pos, pos])
            self.pos_weights.append(w_pos)
            self.neg_weights.append(w_neg)
        return self

    @property
    def thresholds(self):
        """The threshold of each label, in `classes` order."""
        return self.spec.thresholds(self.classes)

    def _multi_hot(self, rows, table=""):
        lookup = {c: i for i, c in enumerate(self.classes)}
        encoded = np.zeros([len(rows), len(self.classes)], np.float32)
        for r, row in enumerate(rows):
            for label in row:
                if label not in lookup:
                    raise DataError(f"Row {r} of {table or 'the table'}, column {self.spec.column!r}: label "
                                    f"{label!r} was not seen in training ({self.classes[:20]})")
                encoded[r, lookup[label]] = 1.0
        return encoded

    def encode(self, column_values, table=""):
        """Cells of separated labels -> float32 multi-hot `[n, labels]`; an unseen label is a DataError."""
        return self._multi_hot(self.split(column_values), table)

    def sample_weights(self, encoded):
        """Per-entry weights `[n, labels]`: each label's positive or negative weight.

        Example:

        >>> tags = mmkeras.specs.OutputSpec(name="tags", type="multilabel", column="tags")
        >>> target = MultiLabelTarget(tags).adapt(["a", "a", "b", ""])
        >>> np.round(target.sample_weights(target.encode(["a", "b"])).astype(float), 3).tolist()
        [[1.0, 0.667], [1.0, 2.0]]
        """
        encoded = np.asarray(encoded, np.float32)
        pos, neg = np.asarray(self.pos_weights, np.float32), np.asarray(self.neg_weights, np.float32)
        return encoded * pos + (1.0 - encoded) * neg

    def get_state(self):
        return {"classes": list(self.classes), "pos_weights": list(self.pos_weights),
                "neg_weights": list(self.neg_weights)}

    def set_state(self, state):
        self.classes = list(state["classes"])
        self.pos_weights = list(state.get("pos_weights", [1.0] * len(self.classes)))
        self.neg_weights = list(state.get("neg_weights", [1.0] * len(self.classes)))


class NumericTarget(Target):
    """A numeric target used as it is: the column's numbers, float32 (a registered head's default).

    A missing or non-numeric value is a DataError naming the row.

    Example:

    >>> t = NumericTarget(spec.outputs["label"]).adapt([1, 4])
    >>> t.encode(["2", 3.5]).tolist()
    [2.0, 3.5]
    """

    def values(self, column_values, table=""):
        """The column as float32, unnormalised; a missing or non-numeric value is a DataError.

        """
        values = pd.to_numeric(pd.Series(column_values), errors="coerce").to_numpy(np.float32)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            row = int(bad[0])
            raise DataError(f"Row {row} of {table or 'the table'}, column {self.spec.column!r}: "
                            f"{pd.Series(column_values).iloc[row]!r} is not a number; {bad.size} such row(s)")
        return values

    def adapt(self, column_values):
        self.values(column_values, "the training split")
        return self

    def encode(self, column_values, table=""):
        """The column's values, float32."""
        return self.values(column_values, table)


class RegressionTarget(NumericTarget):
    """A numeric target, standardised with the training mean and standard deviation.

    `encode` gives `(y - mean) / std` (what the model learns);
    `decode_predictions` maps model outputs back to the column's units;
    `truth` (and `values`) read the column unchanged. A missing value is a DataError naming the row.

    Example:

    >>> t = RegressionTarget(spec.outputs["label"]).adapt([1.0, 3.0])
    >>> t.encode([1.0, 3.0]).tolist(), t.decode_predictions(np.float32([0.0]))
    ([-1.0, 1.0], array([2.], dtype=float32))
    """

    def __init__(self, spec):
        super().__init__(spec)
        self.mean, self.std = 0.0, 1.0

    def adapt(self, column_values):
        values = self.values(column_values, "the training split").astype(np.float64)
        self.mean = float(values.mean())
        std = float(values.std())
        self.std = std if std > 1e-12 * max(1.0, abs(self.mean)) else 1.0
        return self

    def encode(self, column_values, table=""):
        """Standardised float32 targets."""
        return ((self.values(column_values, table) - self.mean) / self.std).astype(np.float32)

    def truth(self, column_values, table=""):
        """The column's values in its units (what MAE, RMSE and R² compare decoded predictions with).

        Example:

        >>> RegressionTarget(spec.outputs["label"]).adapt([1.0, 3.0]).truth(["2.5"])
        array([2.5], dtype=float32)
        """
        return self.values(column_values, table)

    def decode_predictions(self, predictions):
        """Model outputs (numpy or tensors) -> values in the column's units: `y * std + mean`.

        Example:

        >>> RegressionTarget(spec.outputs["label"]).adapt([1.0, 3.0]).decode_predictions(np.float32([1.0]))
        array([3.], dtype=float32)
        """
        return predictions * self.std + self.mean

    def decode_targets(self, encoded):
        """Standardised stored targets (shards) -> the column's units."""
        return self.decode_predictions(encoded)

    def get_state(self):
        return {"mean": self.mean, "std": self.std}

    def set_state(self, state):
        self.mean, self.std = float(state.get("mean", 0.0)), float(state.get("std", 1.0))
