"""Output targets: class and label tables read from the training split, target encoding and decoding."""

import numpy as np
import pandas as pd

from mmkeras.errors import DataError
from mmkeras.data.sources.table import as_strings


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


class ClassTarget:
    """A classification or binary target; `classes` are the values as written in the table.

    For binary outputs `classes` is `[negative, positive]`; the positive class
    is the spec's `positive`, or else the second of the two sorted values.
    `class_weights` (from the training counts, see `balanced_weights`) are
    what `class_weight: balanced` gives each class.

    Example:

    >>> t = ClassTarget(spec.outputs["label"]).adapt(["b", "a", "b"])
    >>> t.classes, t.encode(["a", "b"])
    (['a', 'b'], array([0, 1], dtype=int32))
    """

    def __init__(self, spec):
        self.spec = spec
        self.classes = []
        self.class_weights = []

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
        counts = pd.Series(values).value_counts()
        self.class_weights = balanced_weights([int(counts.get(c, 0)) for c in classes])
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

    def sample_weights(self, encoded):
        """Per-example weights `[n]` for encoded targets: the weight of each example's class.

        Example:

        >>> target.sample_weights(target.encode(df["label"]))
        """
        return np.asarray(self.class_weights, np.float32)[np.asarray(encoded).astype(np.int64).reshape(-1)]

    def decode_predictions(self, predictions):
        """Class outputs are probabilities already: returned unchanged."""
        return predictions

    def get_state(self):
        return {"classes": list(self.classes), "class_weights": list(self.class_weights)}

    def set_state(self, state):
        self.classes = list(state["classes"])
        self.class_weights = list(state.get("class_weights", [1.0] * len(self.classes)))


class MultiLabelTarget:
    """A multilabel target: each cell holds zero or more labels joined by the spec's `separator`.

    Labels are stripped of whitespace; an empty cell means no label. The
    vocabulary (`classes`, sorted like class values) is read from the
    training split; `encode` gives a float32 multi-hot `[n, labels]`.
    `pos_weights` / `neg_weights` are the balanced weights of a label's
    positives and negatives (`class_weight: balanced`).

    Example:

    >>> t = MultiLabelTarget(spec.outputs["tags"]).adapt(["a, b", "", "b"])
    >>> t.classes, t.encode(["b,a", ""]).tolist()
    (['a', 'b'], [[1.0, 1.0], [0.0, 0.0]])
    """

    def __init__(self, spec):
        self.spec = spec
        self.classes = []
        self.pos_weights = []
        self.neg_weights = []

    def split(self, column_values):
        """Each cell -> its list of labels (whitespace stripped, empty parts dropped)."""
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
                from mmkeras.specs import SpecError

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
    def num_classes(self):
        return len(self.classes)

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

        >>> target.sample_weights(target.encode(df["tags"]))
        """
        encoded = np.asarray(encoded, np.float32)
        pos, neg = np.asarray(self.pos_weights, np.float32), np.asarray(self.neg_weights, np.float32)
        return encoded * pos + (1.0 - encoded) * neg

    def decode_predictions(self, predictions):
        """Label probabilities: returned unchanged."""
        return predictions

    def get_state(self):
        return {"classes": list(self.classes), "pos_weights": list(self.pos_weights),
                "neg_weights": list(self.neg_weights)}

    def set_state(self, state):
        self.classes = list(state["classes"])
        self.pos_weights = list(state.get("pos_weights", [1.0] * len(self.classes)))
        self.neg_weights = list(state.get("neg_weights", [1.0] * len(self.classes)))


class RegressionTarget:
    """A numeric target, standardised with the training mean and standard deviation.

    `encode` gives `(y - mean) / std` (what the model learns);
    `decode_predictions` maps model outputs back to the column's units;
    `values` reads the column unchanged. A missing value is a DataError naming the row.

    Example:

    >>> t = RegressionTarget(spec.outputs["price"]).adapt([1.0, 3.0])
    >>> t.encode([1.0, 3.0]).tolist(), t.decode_predictions(np.float32([0.0]))
    ([-1.0, 1.0], array([2.], dtype=float32))
    """

    def __init__(self, spec):
        self.spec = spec
        self.classes = []
        self.mean, self.std = 0.0, 1.0

    def values(self, column_values, table=""):
        """The column as float32, unnormalised; a missing or non-numeric value is a DataError."""
        values = pd.to_numeric(pd.Series(column_values), errors="coerce").to_numpy(np.float32)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            row = int(bad[0])
            raise DataError(f"Row {row} of {table or 'the table'}, column {self.spec.column!r}: "
                            f"{pd.Series(column_values).iloc[row]!r} is not a number; {bad.size} such row(s)")
        return values

    def adapt(self, column_values):
        values = self.values(column_values, "the training split").astype(np.float64)
        self.mean = float(values.mean())
        std = float(values.std())
        self.std = std if std > 1e-12 * max(1.0, abs(self.mean)) else 1.0
        return self

    def encode(self, column_values, table=""):
        """Standardised float32 targets."""
        return ((self.values(column_values, table) - self.mean) / self.std).astype(np.float32)

    def decode_predictions(self, predictions):
        """Model outputs (numpy or tensors) -> values in the column's units: `y * std + mean`.

        Example:

        >>> pre.targets["price"].decode_predictions(model.predict(ds)["price"])
        """
        return predictions * self.std + self.mean

    def sample_weights(self, encoded):
        return np.ones(len(encoded), np.float32)

    def get_state(self):
        return {"mean": self.mean, "std": self.std}

    def set_state(self, state):
        self.mean, self.std = float(state.get("mean", 0.0)), float(state.get("std", 1.0))


TARGETS = {"classification": ClassTarget, "binary": ClassTarget, "multilabel": MultiLabelTarget,
           "regression": RegressionTarget}


def make_target(spec):
    """The target encoder for an output spec (a registered head of another type gets a ClassTarget).

    Example:

    >>> make_target(spec.outputs["label"]).adapt(train_df["label"]).classes
    """
    return TARGETS.get(spec.type, ClassTarget)(spec)


def sample_weights(spec, targets, encoded):
    """`{output: weights}` for `class_weight: balanced`, or `{}` when no output asks for it.

    Outputs without balanced weights get ones. Classification and binary
    weights are `[n]`; multilabel ones `[n, labels]` (per entry; the
    multilabel loss keeps entries apart so they apply per label), or
    `[n, 1]` ones.

    Args:
        spec: the Spec.
        targets: `{output: adapted target}` (the preprocessor's).
        encoded: `{output: encoded targets}`.

    Example:

    >>> sample_weights(spec, pre.targets, {"label": pre.targets["label"].encode(df["label"])})
    {'label': array([...], dtype=float32)}
    """
    if not any(o.class_weight == "balanced" for o in spec.outputs.values()):
        return {}
    weights = {}
    for name, out in spec.outputs.items():
        y = encoded[name]
        if out.class_weight == "balanced":
            weights[name] = targets[name].sample_weights(y)
        else:  # [n] for [n] losses; [n, 1] for multilabel (a [n] weight would broadcast along labels)
            weights[name] = np.ones([len(y)] + [1] * (np.ndim(y) - 1), np.float32)
    return weights
