"""The plots of a run, drawn from its numbers: each function takes arrays, dicts or DataFrames and returns a Figure.

Figures are `matplotlib.figure.Figure` objects made without `pyplot`, so no
window backend is involved (PNG files are rendered by Agg) and nothing is
left open in a global figure list; a notebook shows a returned figure
inline. `mmkeras.plot` reads a run directory and calls these.
"""

import numpy as np
from matplotlib.figure import Figure

DPI = 100
PANEL = (4.2, 3.2)  # inches per panel
SKIPPED_LOGS = ("epoch", "learning_rate", "lr")


def new_figure(panels=1, *, columns=3, panel=PANEL):
    """A Figure with `panels` axes on a grid of at most `columns` columns; returns (figure, flat list of axes).

    Example:

    >>> figure, axes = new_figure(4)
    >>> len(axes), len(figure.axes)
    (4, 4)
    """
    columns = max(1, min(columns, panels))
    rows = -(-panels // columns)
    figure = Figure(figsize=(panel[0] * columns, panel[1] * rows), dpi=DPI, layout="constrained")
    axes = [figure.add_subplot(rows, columns, i + 1) for i in range(panels)]
    return figure, axes


def learning_curves(history, *, title="learning curves"):
    """One panel per loss and metric of a fit: the train value and the validation value per epoch.

    Args:
        history: `keras.callbacks.History.history`, or a DataFrame like `history.csv` (an `epoch` column is ignored).
        title: the figure's title.

    Returns:
        A Figure.

    Example:

    >>> figure = learning_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "label_accuracy": [0.3, 0.6]})
    >>> [a.get_title() for a in figure.axes]
    ['loss', 'label_accuracy']
    """
    logs = {k: np.asarray(v, dtype=float) for k, v in dict(history).items() if k not in SKIPPED_LOGS}
    names = [k for k in logs if not k.startswith("val_")]
    names += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in logs]  # validation-only logs
    names = sorted(names, key=lambda k: (k != "loss", "loss" not in k, k))
    figure, axes = new_figure(max(1, len(names)))
    for ax, name in zip(axes, names):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in logs:
                epochs = np.arange(1, len(logs[key]) + 1)
                ax.plot(epochs, logs[key], marker="o", markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(title)
    return figure


def confusion_matrix(matrix, classes, *, title="confusion matrix"):
    """The confusion matrix normalised per true class (rows sum to 1), class names on both axes.

    Args:
        matrix: counts `[classes, classes]`, rows the true class (as in `metrics.json`).
        classes: the class names, in index order.
        title: the figure's title.

    Example:

    >>> figure = confusion_matrix([[3, 1], [0, 4]], ["cat", "dog"])
    >>> [t.get_text() for t in figure.axes[0].get_xticklabels()]
    ['cat', 'dog']
    """
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    k = len(classes)
    side = min(12.0, max(3.6, 0.45 * k + 2.2))
    figure = Figure(figsize=(side + 0.8, side), dpi=DPI, layout="constrained")
    ax = figure.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), [str(c) for c in classes], fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    ax.text(j, i, f"{shares[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if shares[i, j] > 0.5 else "black")
    ax.set_title(title)
    return figure


def per_class_scores(per_class, *, title="per-class precision, recall and F1"):
    """Grouped bars of precision, recall and F1 per class (or label), with each class's support.

    Args:
        per_class: `{class: {"precision", "recall", "f1", "support"}}` as in `metrics.json`.
        title: the figure's title.

    Example:

    >>> figure = per_class_scores({"cat": {"precision": 1.0, "recall": 0.5, "f1": 0.67, "support": 2},
    ...                            "dog": {"precision": 0.5, "recall": 1.0, "f1": 0.67, "support": 1}})
    >>> len(figure.axes[0].patches)
    6
    """
    names = list(per_class)
    x = np.arange(len(names))
    width = 0.27
    figure = Figure(figsize=(min(16.0, max(5.0, 0.55 * len(names) + 2)), 3.8), dpi=DPI, layout="constrained")
    ax = figure.add_subplot()
    for i, score in enumerate(("precision", "recall", "f1")):
        ax.bar(x + (i - 1) * width, [per_class[n].get(score, 0.0) for n in names], width, label=score)
    labels = [f"{n}\n(n={per_class[n].get('support', '?')})" for n in names]
    ax.set_xticks(x, labels, rotation=60 if len(names) > 6 else 0, ha="right" if len(names) > 6 else "center",
                  fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncols=3, loc="lower right")
    ax.set_title(title)
    return figure


def roc_points(y_true, scores):
    """(false positive rates, true positive rates) of every threshold, from (0, 0) to (1, 1).

    Example:

    >>> fpr, tpr = roc_points([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    y, s = np.asarray(y_true).astype(bool).reshape(-1), np.asarray(scores, dtype=float).reshape(-1)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each run of equal scores
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    tpr = np.r_[0.0, tp / max(y.sum(), 1)]
    fpr = np.r_[0.0, fp / max((~y).sum(), 1)]
    return fpr, tpr


def pr_points(y_true, scores):
    """(recalls, precisions) of every threshold, highest threshold first, and the average precision.

    Example:

    >>> recall, precision, ap = pr_points([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> recall.tolist(), precision.tolist(), round(ap, 3)
    ([0.5, 0.5, 1.0, 1.0], [1.0, 0.5, 0.667, 0.5], 0.833)
    """
    y, s = np.asarray(y_true).astype(bool).reshape(-1), np.asarray(scores, dtype=float).reshape(-1)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last]
    predicted = last + 1
    recall = tp / max(y.sum(), 1)
    precision = np.round(tp / predicted, 3)
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * (tp / predicted)))
    return recall, precision, ap


def roc_pr_curves(y_true, scores, *, positive="positive", title="ROC and precision-recall"):
    """Two panels for a binary output: the ROC curve with its AUC and the precision-recall curve with AP.

    Args:
        y_true: booleans `[n]`, true for the positive class.
        scores: the positive class's probability `[n]`.
        positive: the positive class's name, for the titles.
        title: the figure's title.

    Example:

    >>> figure = roc_pr_curves([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], positive="dog")
    >>> [a.get_title() for a in figure.axes]
    ['ROC (AUC 0.750)', 'precision-recall (AP 0.833)']
    """
    fpr, tpr = roc_points(y_true, scores)
    recall, precision, ap = pr_points(y_true, scores)
    auc = float(np.trapezoid(tpr, fpr))
    figure, (roc, pr) = new_figure(2)
    roc.plot(fpr, tpr, marker=".", label=f"{positive}")
    roc.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC (AUC {auc:.3f})")
    base = float(np.mean(np.asarray(y_true).astype(bool)))
    pr.step(recall, precision, where="post", marker=".", label=f"{positive}")
    pr.axhline(base, color="grey", linestyle="--", linewidth=1, label=f"chance ({base:.2f})")
    pr.set(xlabel="recall", ylabel="precision", title=f"precision-recall (AP {ap:.3f})", ylim=(0, 1.05))
    for ax in (roc, pr):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(title)
    return figure


def regression_plots(y_true, y_pred, *, name="output", title=None):
    """Predicted against true values (with the y = x line) and a histogram of the residuals.

    Example:

    >>> figure = regression_plots([1.0, 2.0, 3.0], [1.1, 1.8, 3.3], name="price")
    >>> [a.get_title() for a in figure.axes]
    ['price: predicted vs true', 'residuals (predicted - true)']
    """
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    residuals = y_pred - y_true
    figure, (scatter, histogram) = new_figure(2)
    scatter.scatter(y_true, y_pred, s=10, alpha=0.6)
    low, high = float(np.nanmin([y_true.min(), y_pred.min()])), float(np.nanmax([y_true.max(), y_pred.max()]))
    scatter.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="y = x")
    scatter.set(xlabel="true", ylabel="predicted", title=f"{name}: predicted vs true")
    scatter.legend(fontsize=8)
    histogram.hist(residuals, bins=min(30, max(5, len(residuals) // 4)), color="tab:orange", alpha=0.8)
    histogram.axvline(0.0, color="grey", linestyle="--", linewidth=1)
    histogram.set(xlabel="residual", ylabel="rows", title="residuals (predicted - true)")
    for ax in (scatter, histogram):
        ax.grid(alpha=0.3)
    figure.suptitle(title or f"regression: {name} (MAE {np.abs(residuals).mean():.4g})")
    return figure


def importance_bars(table, *, title="modality importance"):
    """Bars of the metric drop when each input is masked; a second panel of learned fusion weights if any.

    Args:
        table: the DataFrame of `mmkeras.modality_importance` (`importance.csv`).
        title: the figure's title.

    Example:

    >>> table = pd.DataFrame({"input": ["picture", "sound"], "metric": ["label.accuracy"] * 2,
    ...                       "drop": [0.4, 0.1], "fusion_weight": [0.7, 0.3]})
    >>> [a.get_title() for a in importance_bars(table).axes]
    ['label.accuracy drop when masked', 'learned fusion weight']
    """
    names = [str(n) for n in table["input"]]
    weights = np.asarray(table["fusion_weight"], dtype=float) if "fusion_weight" in table else np.array([np.nan])
    has_weights = bool(np.isfinite(weights).any())
    figure, axes = new_figure(2 if has_weights else 1, panel=(max(4.2, 0.7 * len(names) + 1.5), 3.2))
    drop = np.asarray(table["drop"], dtype=float)
    axes[0].bar(names, drop, color=["tab:red" if d > 0 else "tab:grey" for d in drop])
    axes[0].axhline(0.0, color="black", linewidth=0.8)
    axes[0].set(ylabel="drop", title=f"{table['metric'].iloc[0]} drop when masked")
    if has_weights:
        axes[1].bar(names, np.nan_to_num(weights), color="tab:blue")
        axes[1].set(ylabel="mean weight", title="learned fusion weight")
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30 if len(names) > 4 else 0, labelsize=8)
    figure.suptitle(title)
    return figure
