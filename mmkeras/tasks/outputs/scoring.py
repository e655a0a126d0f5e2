"""The numbers each built-in output type is evaluated with, computed with numpy.

Classification (accuracy, F1, ROC-AUC, confusion matrix), multilabel
(micro/macro F1, subset accuracy, Hamming loss) and regression (MAE, RMSE,
R²) metrics of whole arrays of targets and predictions; each output type
(`mmkeras.tasks.outputs.classification` ...) calls one of them.
"""

import numpy as np


def _prf(tp, predicted, actual):
    precision = float(tp / predicted) if predicted else 0.0
    recall = float(tp / actual) if actual else 0.0
    return precision, recall, 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def classification_metrics(y_true, probabilities, classes):
    """Accuracy, macro/weighted F1, per-class precision/recall/F1, ROC-AUC, confusion matrix.

    The predicted class is the most probable one. `macro_f1` averages the
    classes present in `y_true`. `roc_auc`: for two classes the AUC of the
    second class's probability; for more, one-vs-rest, the mean over the
    classes present (with at least one positive and one negative), each
    also under `per_class[c]["roc_auc"]`. It is left out when no class has
    both positives and negatives.

    Args:
        y_true: int class indices `[n]`.
        probabilities: `[n, classes]`.
        classes: class names, in index order.

    Example:

    >>> m = classification_metrics(np.array([0, 1]), np.array([[.9, .1], [.2, .8]]), ["a", "b"])
    >>> m["accuracy"], m["roc_auc"]
    (1.0, 1.0)
    """
    y_true = np.asarray(y_true).astype(int).reshape(-1)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    y_pred = probabilities.argmax(axis=-1)
    k = len(classes)
    confusion = np.zeros([k, k], dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class, f1s, supports = {}, [], []
    for i, name in enumerate(classes):
        actual = confusion[i, :].sum()
        precision, recall, f1 = _prf(confusion[i, i], confusion[:, i].sum(), actual)
        per_class[str(name)] = {"precision": precision, "recall": recall, "f1": f1, "support": int(actual)}
        f1s.append(f1)
        supports.append(actual)
    present = [i for i, s in enumerate(supports) if s > 0]
    supports = np.asarray(supports, dtype=float)
    out = {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "macro_f1": float(np.mean([f1s[i] for i in present])) if present else 0.0,
        "weighted_f1": float(np.dot(f1s, supports) / supports.sum()) if supports.sum() else 0.0,
    }
    if k == 2:
        auc = roc_auc(y_true == 1, probabilities[:, 1])
        if not np.isnan(auc):
            out["roc_auc"] = auc
    else:
        aucs = {}
        for i in present:
            auc = roc_auc(y_true == i, probabilities[:, i])
            if not np.isnan(auc):
                aucs[i] = auc
                per_class[str(classes[i])]["roc_auc"] = auc
        if aucs:
            out["roc_auc"] = float(np.mean(list(aucs.values())))
    out.update({"per_class": per_class, "confusion_matrix": confusion.tolist(), "count": int(len(y_true))})
    return out


def roc_auc(y_true, scores):
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula; ties get average ranks.

    Returns NaN when `y_true` has no positive or no negative.

    Example:

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y_true = np.asarray(y_true).astype(bool).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    # Average rank (1-based) within each run of equal scores.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end - 1) / 2 + 1
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def multilabel_metrics(y_true, probabilities, labels, thresholds=0.5):
    """Micro/macro F1, subset accuracy, Hamming loss, per-label P/R/F1 and ROC-AUC of a multilabel output.

    A label is predicted when its probability is >= its threshold (as in
    the export). `macro_f1` averages the labels present in `y_true`;
    `roc_auc` is the mean over labels with positives and negatives.

    Args:
        y_true: multi-hot `[n, labels]`.
        probabilities: `[n, labels]`.
        labels: label names, in column order.
        thresholds: one float, or one per label.

    Example:

    >>> m = multilabel_metrics(np.array([[1, 0], [1, 1]]), np.array([[.9, .6], [.8, .7]]), ["a", "b"])
    >>> m["subset_accuracy"], m["hamming_loss"], m["micro_f1"]
    (0.5, 0.25, 0.8571428571428571)
    """
    y_true = np.asarray(y_true).astype(bool)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(y_true.shape)
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), [len(labels)])
    y_pred = probabilities >= thresholds
    tp = (y_true & y_pred).sum(axis=0)
    predicted, actual = y_pred.sum(axis=0), y_true.sum(axis=0)
    per_label, f1s, aucs = {}, [], []
    for i, name in enumerate(labels):
        precision, recall, f1 = _prf(tp[i], predicted[i], actual[i])
        entry = {"precision": precision, "recall": recall, "f1": f1, "support": int(actual[i]),
                 "threshold": float(thresholds[i])}
        auc = roc_auc(y_true[:, i], probabilities[:, i])
        if not np.isnan(auc):
            entry["roc_auc"] = auc
            aucs.append(auc)
        if actual[i] > 0:
            f1s.append(f1)
        per_label[str(name)] = entry
    _, _, micro_f1 = _prf(tp.sum(), predicted.sum(), actual.sum())
    n = len(y_true)
    out = {
        "micro_f1": float(micro_f1),
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "subset_accuracy": float((y_true == y_pred).all(axis=1).mean()) if n else 0.0,
        "hamming_loss": float((y_true != y_pred).mean()) if n else 0.0,
    }
    if aucs:
        out["roc_auc"] = float(np.mean(aucs))
    out.update({"per_label": per_label, "count": int(n)})
    return out


def regression_metrics(y_true, y_pred):
    """MAE, RMSE and R² of a regression output (in the column's units).

    Example:

    >>> regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])["r2"]
    0.5
    """
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    err = y_pred - y_true
    total = np.square(y_true - y_true.mean()).sum()
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt(np.square(err).mean())),
        "r2": float(1 - np.square(err).sum() / total) if total > 0 else 0.0,
        "count": int(len(y_true)),
    }
