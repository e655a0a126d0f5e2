"""Plots of a run, as matplotlib figures: `mmkeras.plot.learning_curves(run_dir)` and the rest.

Every function takes a run directory (or the object the plot is drawn
from: a `History`, a metrics dict, a predictions DataFrame, embeddings)
and returns a `matplotlib.figure.Figure`, which a notebook shows inline
and `figure.savefig("x.png")` writes. `mmkeras train` saves all of them
into `RUN_DIR/plots/` and the report page (`mmkeras report`).

* `learning_curves(run)`: each loss and metric, train vs validation, per epoch.
* `confusion_matrix(run, output=None, split=None)`: normalised per true class, class names on the axes.
* `per_class(run, output=None, split=None)`: precision, recall and F1 per class (or label).
* `roc_pr(run, output=None, split=None)`: ROC and precision-recall curves of a binary output.
* `regression(run, output=None, split=None)`: predicted vs true, and the residuals.
* `importance(run)`: metric drop per masked input, learned fusion weights.
* `recall_at_k(run, split=None)`, `top_results(run, query=None, ...)`: retrieval runs.
* `run_figures(run_dir)`: every plot that applies, by name; `save_plots(run_dir)` writes them.

Example:

>>> figure = mmkeras.plot.learning_curves(run_dir)
>>> type(figure).__name__
'Figure'
"""

from mmkeras.reports.figures import (confusion_matrix, importance, learning_curves, per_class, recall_at_k, regression,
                                     roc_pr, run_figures, save_plots, top_results)

__all__ = ["learning_curves", "confusion_matrix", "per_class", "roc_pr", "regression", "importance",
           "recall_at_k", "top_results", "run_figures", "save_plots"]
