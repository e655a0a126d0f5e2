"""A run under a tf.distribute plan: who writes the run directory, checkpoints, resuming, and the fit itself.

The chief (the only process of a single-process run) writes `RUN_DIR`;
every other worker of a `multi_worker` run writes only into a temporary
folder of its own, removed when it finishes. Each run writes `spec.json`
(the resolved spec: `training.strategy` is the strategy picked) and
`distribute.json` (strategy, replicas, batches, learning rate) before it
trains, checkpoints into `RUN_DIR/checkpoints/` (`training.checkpoint_every`)
and rewrites `history.csv` after every epoch; `--resume` continues from
the latest checkpoint, on every worker, with the same spec.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
import pandas as pd

from mmkeras.distribute.checkpoints import CHECKPOINT_DIR, check_same_spec, history_of, restore, RunCheckpoint
from mmkeras.distribute.cluster import checkpoint_interval
from mmkeras.data.sources import ShardSource, TfdsSource, source_for
from mmkeras.distribute.datasets import check_files_per_worker, fast_forward, for_strategy, resumed_stream
from mmkeras.distribute.keras_fit import fit_scope
from mmkeras.fusion.late import add_aux_targets
from mmkeras.files import claim_directory, write_file, write_json
from mmkeras.runs.run_dir import HISTORY_FILE, SPEC_FILE
from mmkeras.specs import load_spec
from mmkeras.training import fit

DISTRIBUTE_FILE = "distribute.json"


@dataclasses.dataclass
class Checkpointing:
    """Where one process checkpoints and what it resumes from.

    Attributes:
        folder: where it writes checkpoints.
        restore_from: the checkpoints it resumes from (the chief's), or None for a new run.
        save_freq: "epoch" or a number of steps.
        run_dir: the folder whose `history.csv` is rewritten after each epoch (None: none).
    """

    folder: str
    restore_from: object = None
    save_freq: object = "epoch"
    run_dir: object = None

    def write_history(self, rows):
        """Rewrites `run_dir/history.csv` (whole, atomically) from all epochs' log rows."""
        if self.run_dir is not None:
            table = pd.DataFrame(history_of(rows).history).rename_axis("epoch")
            write_file(os.path.join(self.run_dir, HISTORY_FILE), lambda path: table.to_csv(path))


def resolved_spec(spec, plan):
    """The spec a run records: `training.strategy` is the strategy the plan picked.

    Example:

    >>> resolved_spec(spec, mmkeras.distribute.plan_for(spec)).training.strategy
    'default'
    """
    return dataclasses.replace(spec, training=dataclasses.replace(spec.training, strategy=plan.kind))


def _read_spec(run_dir):
    path = os.path.join(run_dir, SPEC_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def prepare_run_dir(spec, out_dir, plan, *, overwrite=False, resume=False):
    """Claims (chief) or creates (other workers: a temporary folder) the folder a process writes, before training.

    Without `resume`, `out_dir` must be new or empty (or `overwrite`: its
    checkpoints are removed). With `resume`, a run directory with a
    `spec.json` is continued when the spec is the same (else a SpecError
    naming what changed), and a new or empty one is started: the same
    command restarts a job whether or not it ran before.

    Args:
        spec: the loaded Spec.
        out_dir: the run directory (`--out`).
        plan: the `mmkeras.distribute.Plan`.
        overwrite, resume: as `mmkeras train --overwrite / --resume`.

    Returns:
        (the folder this process writes, its `Checkpointing`).

    Example:

    >>> folder, checkpointing = prepare_run_dir(spec, os.path.join(tmp_dir, "new"), mmkeras.distribute.plan_for(spec))
    >>> sorted(os.listdir(folder)), checkpointing.restore_from
    (['distribute.json', 'spec.json'], None)
    """
    spec_dict = resolved_spec(spec, plan).to_dict()
    saved = _read_spec(out_dir) if resume else None
    if resume and saved is None and os.path.isdir(out_dir) and os.listdir(out_dir):
        raise FileNotFoundError(f"cannot resume {out_dir}: it has no {SPEC_FILE} (not a run directory)")
    if saved is not None:
        check_same_spec(saved, spec_dict, out_dir)
    save_freq = checkpoint_interval(spec.training.checkpoint_every)
    restore_from = os.path.join(out_dir, CHECKPOINT_DIR) if saved is not None else None
    if not plan.is_chief:
        folder = tempfile.mkdtemp(prefix=f"mmkeras-worker{plan.cluster.rank}-")
        return folder, Checkpointing(os.path.join(folder, CHECKPOINT_DIR), restore_from, save_freq)
    if saved is None:
        claim_directory(out_dir, overwrite or resume)
        shutil.rmtree(os.path.join(out_dir, CHECKPOINT_DIR), ignore_errors=True)
    write_json(os.path.join(out_dir, SPEC_FILE), spec_dict)
    write_json(os.path.join(out_dir, DISTRIBUTE_FILE), plan.summary())
    return out_dir, Checkpointing(os.path.join(out_dir, CHECKPOINT_DIR), restore_from, save_freq, out_dir)


def fit_plan(model, spec, train_ds, val_ds=None, *, plan, epochs=None, verbose=True, callbacks=(),
             checkpointing=None, say=print, fit=fit, steps=None, make_train=None):
    """`mmkeras.training.fit` under a plan's strategy, checkpointed and resumed when `checkpointing` says so.

    Each epoch is one pass of `train_ds` (`epoch_stream`: one shuffle
    order per epoch, however Keras makes its iterators). A resumed run
    loads the latest checkpoint (model, optimizer, RNG states), moves the
    training data's shuffle on to the epoch it stopped in (`fast_forward`),
    finishes that epoch from the step it stopped at, then trains the
    remaining epochs; the history it returns holds every epoch once.

    Args:
        model: built and compiled in `plan.scope()`.
        spec: its Spec.
        train_ds, val_ds: global-batch datasets.
        plan: the `mmkeras.distribute.Plan`.
        epochs: override `training.epochs`.
        verbose: one line per epoch.
        callbacks: more Keras callbacks.
        checkpointing: a `Checkpointing`, or None (no checkpoints).
        say: print function for the resume line.
        fit: the function that fits (`mmkeras.training.fit`).
        steps: batches per epoch when TensorFlow cannot count them (`train_steps`).
        make_train: a function that builds `train_ds` again. Across workers, a run
            resumed in the middle of an epoch trains the later epochs on a new
            copy, whose shuffle starts from the first epoch's order (see
            `resumed_stream`); without it those epochs' order may differ from
            the uninterrupted run's.

    Returns:
        A `keras.callbacks.History` of all epochs.

    Example:

    >>> history = fit_plan(model, spec, mmkeras.make_dataset(spec, splits["train"], pre, training=True),
    ...                    plan=mmkeras.distribute.plan_for(spec), verbose=False)
    >>> history.epoch
    [0]
    """
    epochs = epochs or spec.training.epochs
    state = None
    if checkpointing is not None and checkpointing.restore_from:
        with plan.scope():
            state = restore(model, checkpointing.restore_from)
    epoch, step = (state["epoch"], state["step"]) if state else (0, 0)
    if state:
        say(f"resuming from the checkpoint after epoch {epoch}" + (f", step {step} of epoch {epoch + 1}" if step else ""))
    callbacks = list(callbacks)
    checkpoint = None
    if checkpointing is not None:
        checkpoint = RunCheckpoint(checkpointing.folder, checkpointing.save_freq, history=state["history"] if state else (),
                                   start=(epoch, step), on_epoch=checkpointing.write_history)
        callbacks.append(checkpoint)
    rewritten = plan.workers > 1  # each fit shards a rewritten copy of the dataset: its shuffle starts afresh
    if not rewritten:
        fast_forward(train_ds, epoch)
    history = None
    with fit_scope(model, plan.strategy, add_aux_targets(spec, train_ds)):
        if step and epoch < epochs:  # the rest of the epoch the run stopped in
            stream, rest = resumed_stream(train_ds, steps, epoch, step, rewritten=rewritten)
            history = fit(model, spec, stream, val_ds, epochs=epoch + 1, initial_epoch=epoch, verbose=verbose,
                          callbacks=callbacks, steps_per_epoch=rest)
            epoch += 1
            if rewritten and make_train is not None:  # that fit drew from train_ds's shuffle: start a new one
                train_ds = make_train()
        if epoch < epochs:
            stream, per_epoch = resumed_stream(train_ds, steps, epoch, 0, rewritten=rewritten)
            history = fit(model, spec, stream, val_ds, epochs=epochs, initial_epoch=epoch, verbose=verbose,
                          callbacks=callbacks, steps_per_epoch=per_epoch)
    return history_of(checkpoint.rows) if checkpoint is not None else history


def dataset_for(ds, plan, source, split):
    """A split's dataset as the plan's strategy takes it: tables sharded by row, shards' train split by file.

    A shard folder with fewer train files than workers is refused
    (`check_files_per_worker`); validation is sharded by row (every worker
    reads every file and keeps its part of each batch).

    Example:

    >>> ds = mmkeras.make_dataset(spec, splits["train"], pre, training=True)
    >>> dataset_for(ds, mmkeras.distribute.plan_for(spec), mmkeras.data.sources.source_for(spec), "train") is ds
    True
    """
    if not plan.distributed:
        return ds
    if isinstance(source, ShardSource) and split == "train":
        files = len(source.index["splits"][split]["files"])
        check_files_per_worker(files, plan.workers, f"the {split} split of {source.folder}")
        return for_strategy(ds, plan.strategy, sharding="file")
    if isinstance(source, TfdsSource) and source.input_context is not None and split == "train":
        return for_strategy(ds, plan.strategy, sharding="off")  # TFDS gave this worker its own files already
    return for_strategy(ds, plan.strategy, sharding="data")


def source_for_plan(spec, plan):
    """The spec's Source for this process: a TFDS dataset's train files are split among the plan's workers.

    On one worker (and for tables and shard folders) this is `source_for(spec)`.
    Across workers, a TFDS source gets the plan's `InputContext`, so each worker
    reads only its share of the train split's files (`tfds.ReadConfig`); a
    split with fewer files than workers is refused (`check_files_per_worker`).

    Example:

    >>> type(source_for_plan(spec, mmkeras.distribute.plan_for(spec))).__name__
    'TableSource'
    """
    spec = load_spec(spec)
    if plan.workers == 1 or spec.data.tfds is None:
        return source_for(spec)
    source = TfdsSource(spec, input_context=plan.input_context())
    check_files_per_worker(source.files("train"), plan.workers, f"the train split of {source.description}")
    return source


def train_steps(source, plan):
    """Batches per epoch of a source's train split (the last partial batch dropped), or None when not countable.

    TensorFlow cannot count the batches of TFRecord shards or of the
    tf.data service; `fit_plan` needs them to give each epoch one pass.
    A multi-worker run over shards reads each worker's own files: None.

    Example:

    >>> steps = train_steps(mmkeras.data.sources.source_for(spec), mmkeras.distribute.plan_for(spec))
    >>> steps == len(splits["train"]) // spec.training.batch_size
    True
    """
    if plan.workers > 1 and (isinstance(source, ShardSource)
                             or isinstance(source, TfdsSource) and source.input_context is not None):
        return None
    return source.sizes()["train"] // plan.global_batch or None


def weights_digest(model):
    """A short SHA-256 of a model's weights: equal on every worker of a multi_worker run.

    Example:

    >>> len(weights_digest(model))
    16
    """
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def finish_worker(folder, plan, model):
    """Ends a non-chief worker's run: removes its temporary folder; returns the line it prints.

    Example:

    >>> finish_worker(tempfile.mkdtemp(), mmkeras.distribute.plan_for(spec), model)  # doctest: +ELLIPSIS
    'worker ... done: weights ...; the chief writes the run directory'
    """
    shutil.rmtree(folder, ignore_errors=True)
    rank = plan.cluster.rank if plan.cluster else 0
    return f"worker {rank} of {plan.workers} done: weights {weights_digest(model)}; the chief writes the run directory"
