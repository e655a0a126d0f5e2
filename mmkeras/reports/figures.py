"""The figures of a run directory: each plot from a run (or from the objects it is drawn from), and all of them.

Each function takes `run`: a run directory (it reads `history.csv`,
`metrics.json`, `predictions_<split>.csv`, `importance.csv`,
`embeddings_<split>.npz`) or the object itself (a `History`, a metrics
dict, a predictions DataFrame...). `run_figures` gives every plot that
applies to a run; `save_plots` writes them as PNG files into
`RUN_DIR/plots/`. `mmkeras.plot` is the public name of this module's API.
"""

import io
import json
import os

import pandas as pd

from mmkeras.files import write_atomically
from mmkeras.reports import plots, retrieval_plots
from mmkeras.reports.records import held_out_split, read_embeddings, read_predictions

PLOTS_DIR = "plots"
CLASS_TYPES = ("classification", "binary")


def _is_run(run):
    return isinstance(run, (str, os.PathLike))


def _read_json(run_dir, name):
    with open(os.path.join(run_dir, name), encoding="utf-8") as f:
        return json.load(f)


def _outputs(run_dir):
    """{output: type} from the run's `spec.json` ({} for a retrieval run)."""
    return {n: o["type"] for n, o in _read_json(run_dir, "spec.json").get("outputs", {}).items()}


def _split(run, split):
    if split is not None or not _is_run(run):
        return split
    return held_out_split(run) or "test"


def _output_metrics(run, output, split):
    """The metrics dict of one output: from a run directory, `{split: {output: m}}`, `{output: m}` or `m`."""
    metrics = _read_json(run, "metrics.json") if _is_run(run) else run
    if "count" not in metrics and split in metrics:
        metrics = metrics[split]
    elif "count" not in metrics and set(metrics) <= {"train", "validation", "test"}:
        metrics = metrics["test" if "test" in metrics else "validation"]
    if "count" not in metrics:
        output = output or next(iter(metrics))
        metrics = metrics[output]
    return metrics, output


def learning_curves(run):
    """Train and validation curves of every loss and metric: from a run directory, a History, a dict or DataFrame.

    Example:

    >>> figure = learning_curves(run_dir)
    >>> figure.axes[0].get_title()
    'loss'
    """
    if _is_run(run):
        history = pd.read_csv(os.path.join(run, "history.csv"))
    else:
        history = getattr(run, "history", run)
    return plots.learning_curves(pd.DataFrame(history).to_dict("list"))


def confusion_matrix(run, output=None, split=None):
    """The normalised confusion matrix of a classification or binary output (default: the first output).

    Args:
        run: a run directory, or metrics (`{split: {output: m}}`, `{output: m}` or one output's `m`).
        output: the output's name.
        split: the split (default test, else validation).

    Example:

    >>> figure = confusion_matrix(run_dir)
    >>> figure.axes[0].get_ylabel()
    'true class'
    """
    m, output = _output_metrics(run, output, _split(run, split))
    return plots.confusion_matrix(m["confusion_matrix"], list(m["per_class"]),
                                  title=f"{output or 'output'}: confusion matrix (normalised per true class)")


def per_class(run, output=None, split=None):
    """Per-class (or per-label, multilabel) precision, recall and F1 bars of an output.

    Example:

    >>> len(per_class(run_dir).axes[0].patches)   # 8 classes, 3 bars each
    24
    """
    m, output = _output_metrics(run, output, _split(run, split))
    scores = m.get("per_class", m.get("per_label"))
    return plots.per_class_scores(scores, title=f"{output or 'output'}: precision, recall and F1 per class")


def _predictions(run, split):
    frame = read_predictions(run, _split(run, split)) if _is_run(run) else run
    if frame is None:
        raise FileNotFoundError(f"{run} has no predictions_{_split(run, split)}.csv (written by train)")
    return frame


def _first_output(frame, output, suffix):
    if output is not None:
        return output
    return next(c[: -len("_true")] for c in frame.columns if c.endswith("_true")
                and any(k.startswith(c[: -len("_true")] + suffix) for k in frame.columns))


def roc_pr(run, output=None, split=None):
    """ROC and precision-recall curves of a binary output, from a run directory or a predictions DataFrame.

    The positive class is the last `<o>_prob_<class>` column (the binary
    output's positive class).

    Example:

    >>> frame = pd.DataFrame({"y_true": ["no", "yes", "yes"], "y_prob_no": [0.8, 0.3, 0.6],
    ...                       "y_prob_yes": [0.2, 0.7, 0.4]})
    >>> roc_pr(frame).axes[0].get_title()
    'ROC (AUC 1.000)'
    """
    frame = _predictions(run, split)
    output = _first_output(frame, output, "_prob_")
    probs = [c for c in frame.columns if c.startswith(f"{output}_prob_")]
    positive = probs[-1][len(f"{output}_prob_"):]
    y_true = frame[f"{output}_true"].astype(str) == positive
    return plots.roc_pr_curves(y_true, frame[probs[-1]].astype(float), positive=positive,
                               title=f"{output}: ROC and precision-recall ({positive} positive)")


def regression(run, output=None, split=None):
    """Predicted vs true scatter and residual histogram of a regression output.

    Example:

    >>> frame = pd.DataFrame({"price_true": [1.0, 2.0, 3.0], "price": [1.2, 1.9, 2.7]})
    >>> regression(frame, "price").axes[0].get_title()
    'price: predicted vs true'
    """
    frame = _predictions(run, split)
    if output is None:
        output = next(c[: -len("_true")] for c in frame.columns if c.endswith("_true") and c[:-5] in frame.columns)
    return plots.regression_plots(frame[f"{output}_true"].astype(float), frame[output].astype(float), name=output)


def importance(run):
    """Bars of the metric drop per masked input, and the learned fusion weights (from `importance.csv`).

    Example:

    >>> importance(run_dir).axes[0].get_title()
    'label.accuracy drop when masked'
    """
    table = pd.read_csv(os.path.join(run, "importance.csv")) if _is_run(run) else run
    return plots.importance_bars(table)


def _embeddings(run, split):
    if not _is_run(run):
        pair = [k for k in run if not k.endswith("__raw")]
        return run, pair
    embeddings = read_embeddings(run, _split(run, split))
    if embeddings is None:
        raise FileNotFoundError(f"{run} has no embeddings_{_split(run, split)}.npz (a retrieval run writes it)")
    return embeddings, list(_read_json(run, "spec.json")["task"]["pair"])


def recall_at_k(run, split=None):
    """Retrieval recall@k for k = 1..20 in both directions against chance (a run directory or embeddings).

    Example:

    >>> recall_at_k({"picture": np.eye(3), "name": np.eye(3)}).axes[0].get_xlabel()
    'k'
    """
    embeddings, pair = _embeddings(run, split)
    return retrieval_plots.recall_curve(embeddings, pair)


def top_results(run, query=None, split=None, *, queries=4, k=5):
    """A grid of queries and their top-k retrieved items (pictures for image files), framed green on a hit.

    Args:
        run: a retrieval run directory, or embeddings as `embeddings_<split>.npz` holds them.
        query: the query tower (default the second input of the pair, so the results are the first's).
        split: the split (default test).
        queries, k: rows and results per row.

    Example:

    >>> e = {"picture": np.eye(3), "name": np.eye(3)}
    >>> len(top_results(e, "name", queries=2, k=2).axes)
    6
    """
    embeddings, pair = _embeddings(run, split)
    query = query or pair[1]
    index = pair[0] if query == pair[1] else pair[1]
    return retrieval_plots.top_results_grid(embeddings, query, index, queries=queries, k=k)


def run_figures(run_dir, split=None):
    """Every plot that applies to a run, by name: learning curves, per output its plots, importance, retrieval.

    Example:

    >>> list(run_figures(run_dir))
    ['learning_curves', 'label_confusion_matrix', 'label_per_class', 'importance']
    """
    split = _split(run_dir, split)
    figures = {"learning_curves": learning_curves(run_dir)}
    metrics = _read_json(run_dir, "metrics.json") if os.path.exists(os.path.join(run_dir, "metrics.json")) else {}
    has_predictions = read_predictions(run_dir, split) is not None
    for name, kind in _outputs(run_dir).items():
        m = metrics.get(split, {}).get(name, {})
        if kind in CLASS_TYPES and "confusion_matrix" in m:
            figures[f"{name}_confusion_matrix"] = confusion_matrix(metrics, name, split)
        if "per_class" in m or "per_label" in m:
            figures[f"{name}_per_class"] = per_class(metrics, name, split)
        if kind == "binary" and has_predictions:
            figures[f"{name}_roc_pr"] = roc_pr(run_dir, name, split)
        if kind == "regression" and has_predictions:
            figures[f"{name}_regression"] = regression(run_dir, name, split)
    if os.path.exists(os.path.join(run_dir, "importance.csv")) and len(pd.read_csv(
            os.path.join(run_dir, "importance.csv"))):
        figures["importance"] = importance(run_dir)
    if read_embeddings(run_dir, split) is not None:
        a, b = _read_json(run_dir, "spec.json")["task"]["pair"]
        figures["retrieval_recall"] = recall_at_k(run_dir, split)
        figures[f"{b}_to_{a}_top5"] = top_results(run_dir, b, split)
        figures[f"{a}_to_{b}_top5"] = top_results(run_dir, a, split)
    return figures


def png_bytes(figure):
    """A figure rendered as PNG bytes (Agg).

    Example:

    >>> png_bytes(learning_curves(run_dir))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def save_plots(run_dir, figures=None):
    """Writes every figure of a run as `RUN_DIR/plots/<name>.png` (the folder replaced whole).

    Returns:
        {name: PNG bytes}.

    Example:

    >>> sorted(save_plots(run_dir))[0], os.path.isfile(os.path.join(run_dir, "plots", "learning_curves.png"))
    ('importance', True)
    """
    figures = run_figures(run_dir) if figures is None else figures
    images = {name: png_bytes(figure) for name, figure in figures.items()}

    def write(folder):
        for name, data in images.items():
            with open(os.path.join(folder, f"{name}.png"), "wb") as f:
                f.write(data)

    write_atomically(os.path.join(run_dir, PLOTS_DIR), write, overwrite=True)
    return images
