"""One run lifecycle: a spec's Task trained over a Source, then evaluated, explained and exported.

`train_model` is the one training loop: `train_run`, cross-validation
(`mmkeras.runs.cv`) and the demo all train through it, whatever the task
(outputs, retrieval) and the source (a table, TFRecord shards).
"""

import dataclasses
import os
import time

import keras
import tensorflow as tf

from mmkeras.data.prepass import check_source, write_bad_rows
from mmkeras.data.preprocessor import Preprocessor
from mmkeras.data.sources import ShardSource, TfdsSource
from mmkeras.data.sources.base import Source
from mmkeras.distribute import local_copy, plan_for
from mmkeras.files import write_file, write_json
from mmkeras.jit import JitChoice, resolve_jit_compile, settle
from mmkeras.progress import EpochProgress, dataset_steps
from mmkeras.reports.text import format_importance
from mmkeras.runs.importance import IMPORTANCE_FILE, modality_importance
from mmkeras.runs.distributed import (dataset_for, finish_worker, fit_plan, prepare_run_dir, resolved_spec,
                                     source_for_plan, train_steps)
from mmkeras.runs.reporting import TENSORBOARD_DIR, finish_run, tensorboard_callback
from mmkeras.runs.run_dir import METRICS_FILE, SAVED_MODEL_DIR, held_out_data, load_run, save_trained
from mmkeras.specs import load_spec
from mmkeras.tasks.base import Task
from mmkeras.tasks.registry import task_for
from mmkeras.training import fit

EVALUATED_SPLITS = ("validation", "test")
SHARD_NOTE = ("note: these shards hold preprocessed tensors: random crops and augmentation do not run "
              "(convert with --mode raw to keep them)")


@dataclasses.dataclass
class TrainedModel:
    """What `train_model` returns: the trained model and everything needed to evaluate or export it.

    Attributes:
        model: the trained Keras model.
        preprocessor: the Preprocessor its datasets were made with.
        history: the `keras.callbacks.History` of the fit.
        task: the Task it was trained for.
        source: the Source it was trained from (for evaluating its other splits).
        jit: the `mmkeras.jit.JitChoice` it was compiled with: XLA on or off, and why.

    Example:

    >>> trained = train_model(spec, verbose=False)
    >>> "loss" in trained.history.history, trained.task.name
    (True, 'outputs')
    """

    model: keras.Model
    preprocessor: Preprocessor
    history: keras.callbacks.History
    task: Task
    source: Source
    jit: JitChoice = None


def _silent(*args, **kwargs):
    return None


def train_model(spec, source=None, *, epochs=None, verbose=True, task=None, say=None, plan=None,
                checkpointing=None, callbacks=()):
    """Trains a spec's model: the one training loop every run goes through.

    Sets TF op determinism when `training.deterministic`, lets the task
    prepare the source (retrieval keeps the rows with both inputs), takes
    the source's preprocessor (adapted on its train split, or the one saved
    with shards), builds and compiles the task's model (seeded by
    `training.seed`), fits it on the train split (validated on the
    validation split when the source has one) and turns a TensorFlow
    pipeline error into a `DataError` naming row, column and file. Under a
    tf.distribute plan (`mmkeras.distribute.plan_for`) the model is built
    in the strategy's scope, fitted with `fit_scope` and handed back as a
    local copy (evaluation and export run in this process alone); with
    `checkpointing` it checkpoints and resumes (`mmkeras.runs.distributed`).

    Args:
        spec: a Spec, spec file or dict.
        source: where the examples come from (default `source_for_plan(spec, plan)`:
            `source_for(spec)`, with each worker reading its own files of a TFDS train split).
        epochs: override `training.epochs`.
        verbose: print one line per epoch.
        task: the Task (default `task_for(spec)`).
        say: print function for the lines about the source and the model (None: silent).
        plan: the `mmkeras.distribute.Plan` (default `plan_for(spec)`: `training.strategy`).
        checkpointing: a `mmkeras.runs.distributed.Checkpointing`, or None (no checkpoints).
        callbacks: more Keras callbacks (e.g. TensorBoard). With `training.cache`, a progress bar
            covers the first epoch (the one that fills the cache).

    Returns:
        A `TrainedModel` (model, preprocessor, history, task, source).

    Example:

    >>> trained = train_model(spec, verbose=False)
    >>> trained.model.jit_compile, trained.source.split_names
    (True, ['train', 'validation', 'test'])
    """
    spec = load_spec(spec)
    plan = plan or plan_for(spec)  # first: multi_worker sets up its collectives before TensorFlow runs anything
    task = task or task_for(spec)
    say = say or _silent
    source, notes = task.prepare(source or source_for_plan(spec, plan))
    for line in notes:
        say(line)
    if spec.training.deterministic:
        tf.config.experimental.enable_op_determinism()
    preprocessor = source.preprocessor()
    for line in plan.lines():
        say(line)
    with plan.scope():
        model = task.build_model(plan.build_spec(spec), preprocessor)
    def make_train():
        return dataset_for(task.dataset(source, "train", preprocessor, training=True), plan, source, "train")

    train_ds = make_train()
    val_ds = None
    if "validation" in source.split_names:
        val_ds = dataset_for(task.dataset(source, "validation", preprocessor), plan, source, "validation")
    jit = settle(resolve_jit_compile(plan.build_spec(spec).training), model)  # what was chosen, and why
    xla = jit.describe()
    if isinstance(source, ShardSource):
        if source.mode == "preprocessed" and any(f.decode_is_random or f.transform_is_random
                                                 for f in preprocessor.features.values()):
            say(SHARD_NOTE)
        xla += ", from TFRecord shards"
    say(task.training_line(model, epochs or spec.training.epochs, xla))
    callbacks = task.callbacks() + list(callbacks)
    if spec.training.cache != "none":  # the first epoch decodes every file into the cache
        callbacks.append(EpochProgress(dataset_steps(train_ds)))
    try:
        history = fit_plan(model, spec, train_ds, val_ds, plan=plan, epochs=epochs, verbose=verbose,
                           callbacks=callbacks, checkpointing=checkpointing, say=say, fit=fit, make_train=make_train,
                           steps=train_steps(source, plan))
    except tf.errors.OpError as e:
        raise source.explain(e, preprocessor) from None
    if plan.distributed:
        model = local_copy(model, lambda: task.build_model(spec, preprocessor))
    return TrainedModel(model, preprocessor, history, task, source, jit)


def describe_source(spec, source, task):
    """The line a run prints about its data: examples per split.

    Example:

    >>> describe_source(spec, mmkeras.data.sources.source_for(spec), task_for(spec))  # doctest: +ELLIPSIS
    'demo: train ..., validation ..., test ... rows'
    """
    counts = ", ".join(f"{k} {v}" for k, v in source.sizes().items())
    if isinstance(source, ShardSource):
        return f"{spec.name}: shards in {source.folder}: {counts} examples"
    if isinstance(source, TfdsSource):
        return f"{spec.name}: TFDS {source.name} in {source.builder.data_dir}: {counts} examples"
    return f"{spec.name}: {counts} {task.unit}"


def evaluate_splits(trained, splits=EVALUATED_SPLITS):
    """{split: metrics} of a trained model on the splits of its source among `splits`.

    Example:

    >>> sorted(evaluate_splits(train_model(spec, verbose=False)))
    ['test', 'validation']
    """
    metrics = {}
    for split in splits:
        if split in trained.source.split_names:
            try:
                metrics[split] = trained.task.evaluate(trained.model, trained.preprocessor, trained.source, split)
            except tf.errors.OpError as e:
                raise trained.source.explain(e, trained.preprocessor) from None
    return metrics


def train_run(spec, out_dir, *, data=None, root=None, overwrite=False, epochs=None, verbose=True, strategy=None,
              resume=False, tensorboard=None, report=True):
    """Trains a spec and writes a complete run directory.

    Writes `spec.json` (the resolved spec), `preprocessor/` (adapted state),
    `model.keras`, `history.csv`, `metrics.json` (`{split: {output:
    {metric: value}}}` for validation and test), `importance.csv` (modality
    importance on the test split, see `mmkeras.runs.importance`) and
    `saved_model/`. The spec's `data.path` may be a table or a shard folder
    (`mmkeras convert`); a `task: retrieval` spec trains a dual encoder
    (metrics `{split: {"retrieval": {...}}}`, no importance). Before
    training it writes `spec.json` (`training.strategy`: the strategy
    picked) and `distribute.json`, then checkpoints into `checkpoints/`
    (`mmkeras.runs.distributed`); every file is written whole. In a
    `multi_worker` run only the chief writes `out_dir`. Every row of a table
    is checked first (`mmkeras.data.prepass`): a bad row stops the run before
    training (`data.on_error: raise`) or is dropped and listed in
    `bad_rows.csv` (`skip`).

    Args:
        spec: a Spec, spec file or dict.
        out_dir: the run directory; must not exist or be empty unless `overwrite` (or `resume`).
        data, root: another table / file root than the spec's.
        overwrite: reuse a non-empty run directory, replace its export.
        epochs: override `training.epochs`.
        verbose: print the data, the model, one line per epoch and the metrics.
        strategy: overrides `training.strategy` (`--strategy`).
        resume: continue the run in `out_dir` from its latest checkpoint (the
            same spec), or start it when `out_dir` is new or empty (`--resume`).
        tensorboard: log to `RUN_DIR/tensorboard/` (default `training.tensorboard`; `--tensorboard`).
        report: record predictions and `run.json`, draw `plots/` and write `report.html`
            (`mmkeras.runs.reporting.finish_run`), then print the headline metrics and the report's path.

    Returns:
        The metrics dict (None on a `multi_worker` worker that is not the chief).

    Example:

    >>> metrics = train_run(spec, os.path.join(tmp_dir, "run"), verbose=False)
    >>> written = os.listdir(os.path.join(tmp_dir, "run"))
    >>> sorted(metrics), all(f in written for f in ("history.csv", "metrics.json", "checkpoints", "distribute.json"))
    (['test', 'validation'], True)
    """
    say = print if verbose else _silent
    spec = load_spec(spec)
    if data is not None or root is not None:
        spec = spec.with_data(path=data, root=root)
    plan = plan_for(spec, strategy)  # first: multi_worker sets up its collectives before TensorFlow runs anything
    task = task_for(spec)
    source, notes = task.prepare(source_for_plan(spec, plan))  # data errors come before the run directory is made
    for line in notes:
        say(line)
    source, bad_rows = check_source(spec, source)  # every row, before any epoch: data.on_error
    folder, checkpointing = prepare_run_dir(spec, out_dir, plan, overwrite=overwrite, resume=resume)
    if bad_rows and plan.is_chief:
        say(write_bad_rows(out_dir, bad_rows))
    say(describe_source(spec, source, task))
    tensorboard = spec.training.tensorboard if tensorboard is None else tensorboard
    started = time.perf_counter()
    extra = [tensorboard_callback(folder)] if tensorboard else []  # a worker logs into its own folder
    trained = train_model(spec, source, epochs=epochs, verbose=verbose, task=task, say=say, plan=plan,
                          checkpointing=checkpointing, callbacks=extra)
    seconds = time.perf_counter() - started
    if not plan.is_chief:  # another worker of a multi_worker run: the chief writes the run directory
        say(finish_worker(folder, plan, trained.model))
        return None
    save_trained(out_dir, resolved_spec(spec, plan), trained.preprocessor, trained.model, trained.history)
    metrics = evaluate_splits(trained)
    write_json(os.path.join(out_dir, METRICS_FILE), metrics)
    for line in task.format_metrics(metrics):
        say(line)
    held_out = [split for split in ("test", "validation") if split in source.split_names]
    if task.supports_importance and held_out and source.table(held_out[0]) is not None:  # -> importance.csv
        importance = modality_importance(trained.model, trained.preprocessor, source.table(held_out[0]),
                                         root=source.root, table="held-out split")
        write_file(os.path.join(out_dir, IMPORTANCE_FILE), lambda path: importance.to_csv(path, index=False))
        for line in format_importance(importance):
            say(line)
    task.export(trained.model, trained.preprocessor, os.path.join(out_dir, SAVED_MODEL_DIR),
                overwrite=overwrite or resume)
    say(f"run written to {out_dir}")
    if tensorboard:
        say(f"tensorboard --logdir {os.path.join(out_dir, TENSORBOARD_DIR)}")
    if report:
        for line in finish_run(out_dir, trained, metrics, seconds=seconds):
            say(line)
    return metrics


def evaluate_run(run_dir, *, data=None, root=None, out=None):
    """Metrics of a trained run on a table (default: the spec's validation and test splits).

    With `data` (a table or a shard folder), it is evaluated and written to
    `out` (default `RUN_DIR/evaluation_<table name>.json`); otherwise the
    spec's own splits to `RUN_DIR/evaluation.json`.

    Args:
        run_dir: a run directory from `train_run`.
        data: a table (evaluated whole) or shard folder; default the spec's data.
        root: folder of relative file paths.
        out: the JSON file to write.

    Returns:
        (metrics, path written).

    Example:

    >>> metrics, path = evaluate_run(run_dir)
    >>> sorted(metrics), os.path.basename(path)
    (['test', 'validation'], 'evaluation.json')
    """
    spec, pre, model = load_run(run_dir)
    task = task_for(spec)
    source, items, default_out = held_out_data(spec, run_dir, data=data, root=root, splits=EVALUATED_SPLITS,
                                               name="evaluation", ext=".json")
    metrics = {}
    for key, split in items:
        df = source.table(split)
        try:
            if df is None:  # shards: the stored targets
                metrics[key] = task.evaluate(model, pre, source, split)
            else:
                metrics[key] = task.evaluate_table(model, pre, df, root=source.root, table=key)
        except tf.errors.OpError as e:
            raise source.explain(e, pre) from None
    path = out or default_out
    write_json(path, metrics)
    return metrics, path


def export_run(run_dir, out=None, *, overwrite=False):
    """Exports a run's model and preprocessor as a SavedModel (default `RUN_DIR/saved_model`).

    Args:
        run_dir: a run directory from `train_run`.
        out: the export folder.
        overwrite: replace an existing export.

    Returns:
        The absolute path written.

    Example:

    >>> path = export_run(run_dir, os.path.join(tmp_dir, "export"))
    >>> os.path.isfile(os.path.join(path, "saved_model.pb"))
    True
    """
    spec, pre, model = load_run(run_dir)
    return task_for(spec).export(model, pre, out or os.path.join(run_dir, SAVED_MODEL_DIR), overwrite=overwrite)
