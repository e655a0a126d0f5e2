"""What a run records for its plots and report, beside its metrics: predictions, embeddings, sizes, summary.

`record_run` writes, at the end of training:

```
RUN_DIR/
  run.json                   examples per split, parameters, XLA (and why: `jit_compile`), epochs, seconds,
                             versions, main metric
  model_summary.txt          the model summary, nested encoders expanded
  predictions_<split>.csv    outputs: per row `<o>_true` and the `mmkeras predict` columns
                             (`<o>_label` + `<o>_prob_<class>`, `<o>_labels`, `<o>`)
  embeddings_<split>.npz     retrieval: both towers' embeddings and the raw values (paths, strings)
```

for the held-out splits (validation, test). Every file is written to a
temporary name and renamed, so a reader never sees half of one.
"""

import datetime
import json
import os

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from mmkeras.data import make_dataset
from mmkeras.files import write_file
from mmkeras.tasks.outputs.heads import HEADS
from mmkeras.tasks.outputs.metrics import as_output_dict
from mmkeras.tasks.retrieval.evaluation import embed_table, paired_rows

RUN_INFO_FILE = "run.json"
SUMMARY_FILE = "model_summary.txt"
PREDICTIONS_FILE = "predictions_{split}.csv"
EMBEDDINGS_FILE = "embeddings_{split}.npz"
RECORDED_SPLITS = ("validation", "test")
SUMMARY_WIDTH = 124


def write_text(path, text):
    """Writes `text` (UTF-8) to `path` through a temporary file (`mmkeras.files.write_file`); returns `path`.

    Example:

    >>> open(write_text(os.path.join(tmp_dir, "b.txt"), "héllo"), encoding="utf-8").read()
    'héllo'
    """
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return write_file(path, write)


def readable_truth(target, y_true, separator=","):
    """Targets as evaluation reads them -> values as written in a table (class names, joined labels, numbers).

    Example:

    >>> readable_truth(pre.targets["label"], np.array([0, 1]))[:1] == [pre.targets["label"].classes[0]]
    True
    """
    y_true = np.asarray(y_true)
    classes = list(getattr(target, "classes", []) or [])
    if classes and y_true.ndim == 2 and y_true.shape[1] == len(classes) and len(classes) > 1:
        return [separator.join(c for c, on in zip(classes, row) if on) for row in y_true.astype(bool)]
    if classes and y_true.ndim == 1:
        return [classes[int(v)] for v in y_true]
    return y_true.reshape(len(y_true), -1)[:, 0].astype(np.float64).tolist()


def prediction_frame(spec, preprocessor, predictions, truths):
    """One row per example: each output's `<o>_true` and the columns `mmkeras predict` writes for it.

    Args:
        spec: the Spec.
        preprocessor: its adapted Preprocessor (the targets).
        predictions: `{output: raw model outputs}`.
        truths: `{output: targets as evaluation reads them}` (`target.truth`).

    Returns:
        A DataFrame.

    Example:

    >>> ds = mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False)
    >>> predictions = {"label": model.predict(ds, verbose=0)["label"]}
    >>> truths = {"label": pre.targets["label"].truth(splits["test"]["label"])}
    >>> list(prediction_frame(spec, pre, predictions, truths).columns)[:3]
    ['label_true', 'label_label', 'label_prob_circle-high-animal']
    """
    columns = {}
    for name, out in spec.outputs.items():
        head, target = HEADS.get(out.type), preprocessor.targets[name]
        served = head.serving_outputs(name, out, target, tf.constant(np.asarray(predictions[name]), tf.float32))
        served = {k: np.asarray(v) for k, v in served.items()}
        columns[f"{name}_true"] = readable_truth(target, truths[name], out.separator)
        for key, values in head.prediction_columns(name, head.export_metadata(out, target), served).items():
            columns[key] = [v.decode("utf-8") if isinstance(v, bytes) else v for v in values]
    return pd.DataFrame(columns)


def predict_split(model, preprocessor, source, split):
    """`prediction_frame` of one split of a source: predicted from its rows (tables) or its stored targets (shards).

    Example:

    >>> source = mmkeras.data.sources.source_for(spec)
    >>> len(predict_split(model, pre, source, "test")) == len(splits["test"])
    True
    """
    spec = preprocessor.spec
    df = source.table(split)
    if df is not None:
        ds = make_dataset(spec, df, preprocessor, with_targets=False, root=source.root, table=f"{split} split")
        predictions = as_output_dict(spec, model.predict(ds, verbose=0))
        truths = {n: preprocessor.targets[n].truth(df[o.column]) for n, o in spec.outputs.items()}
        return prediction_frame(spec, preprocessor, predictions, truths)
    predictions, targets = {}, {}
    for element in source.dataset(split, preprocessor):
        out = as_output_dict(spec, model.predict_on_batch(element[0]))
        for name in spec.outputs:
            predictions.setdefault(name, []).append(np.asarray(out[name]))
            targets.setdefault(name, []).append(np.asarray(element[1][name]))
    truths = {n: preprocessor.targets[n].decode_targets(np.concatenate(targets[n])) for n in spec.outputs}
    return prediction_frame(spec, preprocessor, {n: np.concatenate(p) for n, p in predictions.items()}, truths)


def embed_split(model, preprocessor, source, split):
    """Retrieval: `{input: embeddings [rows, dim], input + "__raw": raw values}` of a split's paired rows.

    Example:

    >>> spec_dict = {**spec.to_dict(), "inputs": {k: spec.to_dict()["inputs"][k] for k in ("picture", "caption")},
    ...              "task": {"type": "retrieval", "pair": ["picture", "caption"], "embedding_dim": 4}}
    >>> del spec_dict["outputs"], spec_dict["fusion"]
    >>> task = mmkeras.tasks.registry.task_for(mmkeras.load_spec(spec_dict))
    >>> source, _ = task.prepare(mmkeras.data.sources.source_for(task.spec))
    >>> retrieval_pre = source.preprocessor()
    >>> arrays = embed_split(task.build_model(task.spec, retrieval_pre), retrieval_pre, source, "test")
    >>> arrays["caption"].shape[1], arrays["picture__raw"][0].endswith(".png")
    (4, True)
    """
    spec = preprocessor.spec
    df, _ = paired_rows(spec, source.table(split))
    embeddings = embed_table(model, preprocessor, df, root=source.root, table=f"{split} split")
    raw = preprocessor.raw_columns(df, root=source.root, table=f"{split} split")
    out = {name: embeddings[name] for name in spec.task.pair}
    out.update({f"{name}__raw": np.asarray([str(v) for v in raw[name]]) for name in spec.task.pair})
    return out


def model_summary(model):
    """The model's summary as text, nested models (the encoders) expanded.

    Example:

    >>> "Total params" in model_summary(model)
    True
    """
    lines = []
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(SUMMARY_WIDTH)  # rich sizes the table to the terminal, 80 columns when there is none
    try:
        model.summary(expand_nested=True, print_fn=lambda text, line_break=True: lines.append(text))
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join(lines)


def run_info(trained, *, seconds=None):
    """The facts `run.json` holds about a trained model: sizes, unit, parameters, XLA, epochs, versions.

    Example:

    >>> import mmkeras.runs.reporting
    >>> trained = mmkeras.runs.reporting.FinishedRun(run_dir)   # a run read back: model, preprocessor, task...
    >>> info = run_info(trained)
    >>> info["sizes"]["train"] > 0, info["xla"], info["task"]
    (True, True, 'outputs')
    """
    model = trained.model
    return {
        "task": trained.task.name,
        "main_metric": list(trained.task.main_metric()),
        "sizes": {k: int(v) for k, v in trained.source.sizes().items()},
        "unit": trained.task.unit,
        "parameters": int(model.count_params()),
        "xla": bool(model.jit_compile),
        "jit_compile": trained.jit.to_dict() if getattr(trained, "jit", None) else None,  # chosen how, and why
        "epochs": len(trained.history.epoch),
        "seconds": None if seconds is None else round(float(seconds), 1),
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }


def record_run(run_dir, trained, *, seconds=None, splits=RECORDED_SPLITS):
    """Writes `run.json`, `model_summary.txt` and each held-out split's predictions (or embeddings).

    `run.json` is updated: keys another part of the run wrote into it
    (e.g. the XLA choice) are kept.

    Args:
        run_dir: the run directory.
        trained: what `mmkeras.runs.train_model` returned (model, preprocessor, history, task, source).
        seconds: how long training took, for `run.json`.
        splits: the splits to record, among those the source has.

    Returns:
        The paths written.

    Example:

    >>> import mmkeras.runs.reporting
    >>> trained = mmkeras.runs.reporting.FinishedRun(run_dir)   # a run read back: model, preprocessor, task...
    >>> paths = record_run(tmp_dir, trained)
    >>> sorted(os.path.basename(p) for p in paths)
    ['model_summary.txt', 'predictions_test.csv', 'predictions_validation.csv', 'run.json']
    """
    info = {**read_run_info(run_dir), **run_info(trained, seconds=seconds)}  # keeps what others wrote there
    paths = [write_text(os.path.join(run_dir, RUN_INFO_FILE), json.dumps(info, indent=1)),
             write_text(os.path.join(run_dir, SUMMARY_FILE), model_summary(trained.model))]
    retrieval = trained.task.name == "retrieval"
    for split in splits:
        if split not in trained.source.split_names:
            continue
        if retrieval:
            arrays = embed_split(trained.model, trained.preprocessor, trained.source, split)
            path = os.path.join(run_dir, EMBEDDINGS_FILE.format(split=split))
            paths.append(write_file(path, lambda tmp, arrays=arrays: _savez(tmp, arrays)))
        elif trained.task.name == "outputs":
            frame = predict_split(trained.model, trained.preprocessor, trained.source, split)
            path = os.path.join(run_dir, PREDICTIONS_FILE.format(split=split))
            paths.append(write_file(path, lambda tmp, frame=frame: frame.to_csv(tmp, index=False)))
    return paths


def _savez(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def held_out_split(run_dir):
    """The split the plots show: "test" when the run recorded it, else "validation" (None: neither).

    Example:

    >>> held_out_split(run_dir)
    'test'
    """
    for split in ("test", "validation"):
        for pattern in (PREDICTIONS_FILE, EMBEDDINGS_FILE):
            if os.path.exists(os.path.join(run_dir, pattern.format(split=split))):
                return split
    return None


def read_predictions(run_dir, split):
    """The `predictions_<split>.csv` of a run as a DataFrame, or None when it has none.

    Example:

    >>> "label_true" in read_predictions(run_dir, "test").columns
    True
    """
    path = os.path.join(run_dir, PREDICTIONS_FILE.format(split=split))
    if not os.path.exists(path):
        return None
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def read_embeddings(run_dir, split):
    """The `embeddings_<split>.npz` of a retrieval run as a dict of arrays, or None.

    Example:

    >>> read_embeddings(run_dir, "test") is None   # not a retrieval run
    True
    """
    path = os.path.join(run_dir, EMBEDDINGS_FILE.format(split=split))
    if not os.path.exists(path):
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def read_run_info(run_dir):
    """`run.json` of a run as a dict ({} for a run written before it existed).

    Example:

    >>> read_run_info(run_dir)["unit"]
    'rows'
    """
    path = os.path.join(run_dir, RUN_INFO_FILE)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)
