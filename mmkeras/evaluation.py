"""Metrics per output, computed with numpy from predictions and encoded targets."""

import numpy as np


def _f1(p, r):
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def classification_metrics(y_true, probabilities, classes):
    """Accuracy, macro/weighted F1, per-class precision/recall/F1, confusion matrix.

    Args:
        y_true: int class indices `[n]`.
        probabilities: `[n, classes]`.
        classes: class names, in index order.

    Example:

    >>> m = classification_metrics(np.array([0, 1]), np.array([[.9, .1], [.2, .8]]), ["a", "b"])
    >>> m["accuracy"]
    1.0
    """
    y_true = np.asarray(y_true).astype(int).reshape(-1)
    y_pred = np.asarray(probabilities).argmax(axis=-1)
    k = len(classes)
    confusion = np.zeros([k, k], dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class, f1s, supports = {}, [], []
    for i, name in enumerate(classes):
        tp = confusion[i, i]
        predicted, actual = confusion[:, i].sum(), confusion[i, :].sum()
        precision = float(tp / predicted) if predicted else 0.0
        recall = float(tp / actual) if actual else 0.0
        per_class[str(name)] = {"precision": precision, "recall": recall,
                                "f1": _f1(precision, recall), "support": int(actual)}
        f1s.append(per_class[str(name)]["f1"])
        supports.append(actual)
    present = [i for i, s in enumerate(supports) if s > 0]
    supports = np.asarray(supports, dtype=float)
    out = {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "macro_f1": float(np.mean([f1s[i] for i in present])) if present else 0.0,
        "weighted_f1": float(np.dot(f1s, supports) / supports.sum()) if supports.sum() else 0.0,
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
        "count": int(len(y_true)),
    }
    if k == 2 and len(present) == 2:
        out["roc_auc"] = roc_auc(y_true, np.asarray(probabilities)[:, 1])
    return out


def roc_auc(y_true, scores):
    """Area under the ROC curve by the rank-sum formula (ties get average ranks)."""
    y_true = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = y_true.sum(), (~y_true).sum()
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def regression_metrics(y_true, y_pred):
    """MAE, RMSE and R² of a regression output."""
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


def output_metrics(spec, preprocessor, predictions, df):
    """{output: metrics} for a table with the outputs' columns."""
    result = {}
    for name, out in spec.outputs.items():
        target = preprocessor.targets[name]
        y_true = target.encode(df[out.column])
        y = np.asarray(predictions[name])
        if out.type == "binary":
            y = np.concatenate([1 - y.reshape(-1, 1), y.reshape(-1, 1)], axis=1)
        if out.type in ("classification", "binary"):
            result[name] = classification_metrics(y_true, y, target.classes)
        else:
            result[name] = regression_metrics(y_true, y)
    return result


def evaluate_model(model, preprocessor, df, *, root=None, table=""):
    """Predicts a table with the in-memory model and returns {output: metrics}.

    Example:

    >>> evaluate_model(model, pre, splits["test"])["label"]["accuracy"]
    0.99
    """
    from mmkeras.data import make_dataset

    spec = preprocessor.spec
    ds = make_dataset(spec, df, preprocessor, with_targets=False, root=root, table=table)
    predictions = model.predict(ds, verbose=0)
    if not isinstance(predictions, dict):
        predictions = {next(iter(spec.outputs)): predictions}
    return output_metrics(spec, preprocessor, predictions, df)


def format_metrics(metrics, indent="  "):
    """Short text lines (headline metrics only) for printing."""
    lines = []
    for split, outputs in metrics.items():
        for name, m in outputs.items():
            shown = {k: v for k, v in m.items() if isinstance(v, float)}
            lines.append(f"{indent}{split:<10} {name:<12} " + "  ".join(f"{k}={v:.4f}" for k, v in shown.items()))
    return lines
