"""Run directories: train, evaluate, predict, export, cross-validate, modality importance.

`lifecycle.train_model` is the one training loop; `lifecycle.train_run`
writes a run directory (`run_dir.py` says what is in it), `predict.py`
serves its export on a table, `cv.py` cross-validates a spec and
`importance.py` measures how much each input matters.
"""

from mmkeras.runs.lifecycle import TrainedModel, evaluate_run, export_run, train_model, train_run
from mmkeras.runs.predict import predict_table
from mmkeras.runs.run_dir import load_run

__all__ = ["TrainedModel", "train_model", "train_run", "evaluate_run", "export_run", "predict_table", "load_run"]
