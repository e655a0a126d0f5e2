"""The end of a run: its records, plots and report page, and the headline table printed last.

`finish_run` is what `train_run` calls once the run directory is complete:
`mmkeras.reports.records.record_run` (predictions, `run.json`, the model
summary), then the plots (`RUN_DIR/plots/`) and `RUN_DIR/report.html`
(`mmkeras.reports.html`). `report_run` (`mmkeras report`) draws them again
for any run directory, recording first a run written before these files
existed (its predictions recomputed from `model.keras` and the spec's data).
"""

import importlib.util
import os

import keras
import pandas as pd

from mmkeras.data.sources import source_for
from mmkeras.errors import SpecError
from mmkeras.reports.headline import format_headline
from mmkeras.reports.html import REPORT_FILE, write_report
from mmkeras.reports.records import RUN_INFO_FILE, record_run
from mmkeras.runs.run_dir import HISTORY_FILE, load_run
from mmkeras.tasks.registry import task_for


TENSORBOARD_DIR = "tensorboard"


def tensorboard_callback(run_dir):
    """Keras' TensorBoard callback into `RUN_DIR/tensorboard/`: epoch scalars, the graph, a histogram per weight.

    Example:

    >>> callback = tensorboard_callback(tmp_dir)
    >>> callback.histogram_freq, callback.write_graph, os.path.basename(callback.log_dir)
    (1, True, 'tensorboard')
    """
    if importlib.util.find_spec("tensorboard") is None:  # tf.summary's implementation lives in that package
        raise SpecError("training.tensorboard (--tensorboard) needs the tensorboard package: pip install tensorboard "
                        '(or pip install "mmkeras[tensorboard]")')
    return keras.callbacks.TensorBoard(log_dir=os.path.join(run_dir, TENSORBOARD_DIR), histogram_freq=1,
                                       write_graph=True)


class FinishedRun:
    """A run directory read back as what `record_run` takes: model, preprocessor, task, source and history.

    Example:

    >>> finished = FinishedRun(run_dir)
    >>> finished.task.name, len(finished.history.epoch)
    ('outputs', 1)
    """

    def __init__(self, run_dir):
        spec, self.preprocessor, self.model = load_run(run_dir)
        self.task = task_for(spec)
        self.source, _ = self.task.prepare(source_for(spec))
        self.history = keras.callbacks.History()
        self.history.epoch = list(range(len(pd.read_csv(os.path.join(run_dir, HISTORY_FILE)))))


def report_run(run_dir, out=None, *, overwrite=False):
    """Writes a run's plots and report page (default `RUN_DIR/report.html`, redrawn each time); returns its path.

    A run without `run.json` (written before reports existed) is recorded
    first (`FinishedRun`). An `out` elsewhere than the run's own report is
    not replaced unless `overwrite`.

    Args:
        run_dir: a run directory.
        out: the HTML file.
        overwrite: replace an existing `out`.

    Example:

    >>> os.path.basename(report_run(run_dir))
    'report.html'
    """
    own = os.path.join(run_dir, REPORT_FILE)
    if out and os.path.exists(out) and not overwrite and os.path.abspath(out) != os.path.abspath(own):
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
    if not os.path.exists(os.path.join(run_dir, RUN_INFO_FILE)):
        load_run(run_dir)  # a clear error for a folder that is not a run
        record_run(run_dir, FinishedRun(run_dir))
    return write_report(run_dir, out)


def finish_run(run_dir, trained, metrics, *, seconds=None):
    """Records a trained run, draws its plots and report; returns the lines to print last (headline + report path).

    Args:
        run_dir: the run directory (spec, model, metrics already written).
        trained: what `train_model` returned.
        metrics: the run's `{split: {output: metrics}}`.
        seconds: how long training took.

    Example:

    >>> lines = finish_run(run_dir, FinishedRun(run_dir), {"test": {"label": {"accuracy": 0.5}}})
    >>> lines[0], lines[-1].startswith("report: ")
    ('headline metrics', True)
    """
    record_run(run_dir, trained, seconds=seconds)
    path = write_report(run_dir)
    return format_headline(metrics) + [f"report: {os.path.abspath(path)}"]
