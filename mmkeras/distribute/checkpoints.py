"""Training that survives being killed: checkpoints in `RUN_DIR/checkpoints/`, and resuming from them.

```
RUN_DIR/checkpoints/
  checkpoint.json             which checkpoint is the latest: epoch, step in epoch, history so far, RNG states
  ckpt-00002-0000000/         one checkpoint (the latest two are kept)
    model.weights.h5          model and optimizer variables (Keras' `save_weights`)
```

A checkpoint is written into a hidden temporary folder, renamed into place,
and only then named by `checkpoint.json` (itself replaced whole), so a kill
at any moment leaves the previous checkpoint usable. `RunCheckpoint` is
Keras' `BackupAndRestore` with those atomic writes, a step position inside
the epoch, the history and the dropout RNG states.
"""

import json
import os
import shutil
import tempfile

import keras

from mmkeras.errors import SpecError
from mmkeras.files import write_json

CHECKPOINT_DIR = "checkpoints"
POINTER_FILE = "checkpoint.json"
WEIGHTS_FILE = "model.weights.h5"
KEEP = 2  # checkpoints kept: the latest and the one before it
# Spec keys a resumed run may change: the strategy (e.g. resumed on another machine; the global batch stays).
RESUME_MAY_CHANGE = ("training.strategy",)


def spec_changes(old, new, path=""):
    """The key paths where two spec dicts differ, as "key: old -> new" lines.

    Example:

    >>> spec_changes({"training": {"epochs": 2, "seed": 0}}, {"training": {"epochs": 3, "seed": 0}})
    ['training.epochs: 2 -> 3']
    """
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in list(old) + [k for k in new if k not in old]:
            lines += spec_changes(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
        return lines
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def check_same_spec(old, new, where):
    """Refuses to resume a run whose spec changed, naming every key that did.

    Args:
        old: the spec dict the run started with (its `spec.json`).
        new: the spec dict given now.
        where: the run directory (named in the message).

    Example:

    >>> check_same_spec({"training": {"epochs": 2}}, {"training": {"epochs": 3}}, "runs/a")
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: cannot resume runs/a: the spec changed since the run started (training.epochs: 2 -> 3); resume with the same spec, or start a new run (another --out, or --overwrite)
    """
    changes = [c for c in spec_changes(old, new) if c.split(":")[0] not in RESUME_MAY_CHANGE]
    if changes:
        raise SpecError(f"cannot resume {where}: the spec changed since the run started ({'; '.join(changes)}); "
                        "resume with the same spec, or start a new run (another --out, or --overwrite)")


def read_checkpoint(folder):
    """The latest checkpoint's state in `folder` (`checkpoint.json`), or None when there is none.

    Returns:
        {"epoch": epochs completed, "step": steps done in the next epoch,
        "history": [per-epoch logs], "rng": {variable path: state},
        "folder": the checkpoint's folder name}.

    Example:

    >>> read_checkpoint(tmp_dir) is None
    True
    """
    path = os.path.join(folder, POINTER_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.loads(f.read())


def rng_variables(model):
    """The model's RNG state variables (dropout and augmentation seed generators): {path: variable}.

    `save_weights` leaves them out; a checkpoint keeps them so a resumed
    run draws the same dropout masks.

    Example:

    >>> sorted(rng_variables(model)) == sorted(v.path for v in model.variables if "seed_generator" in v.path)
    True
    """
    return {v.path: v for v in model.variables if "seed_generator_state" in v.path}


def restore(model, folder):
    """Loads the latest checkpoint of `folder` into a built, compiled model; returns its state (see `read_checkpoint`).

    Call it where the model was built (in its strategy's scope); the
    optimizer is built first so its variables load too.

    Example:

    >>> restore(model, tmp_dir) is None
    True
    """
    state = read_checkpoint(folder)
    if state is None:
        return None
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(os.path.join(folder, state["folder"], WEIGHTS_FILE))
    variables = rng_variables(model)
    for path, value in state.get("rng", {}).items():
        if path in variables:
            variables[path].assign(value)
    return state


def history_of(rows):
    """A `keras.callbacks.History` of per-epoch log rows (`[{"epoch": 0, "loss": ...}, ...]`).

    Example:

    >>> history_of([{"epoch": 0, "loss": 1.0}, {"epoch": 1, "loss": 0.5}]).history
    {'loss': [1.0, 0.5]}
    """
    history = keras.callbacks.History()
    history.epoch = [row["epoch"] for row in rows]
    history.history = {}
    for row in rows:
        for key, value in row.items():
            if key != "epoch":
                history.history.setdefault(key, []).append(value)
    return history


class RunCheckpoint(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore` whose checkpoints are atomic and keep the step, the history and RNG states.

    Restoring is done before `fit` by `restore` (a resumed run must know
    where it stands to position its data); this callback only saves: at
    each epoch's end, and every `save_freq` steps when it is a number.

    Args:
        folder: where checkpoints go (`RUN_DIR/checkpoints`, or a temporary
            folder on a worker that is not the chief).
        save_freq: "epoch" or a number of steps (`training.checkpoint_every`).
        history: log rows of the epochs already trained (a resumed run's).
        start: (epoch, step) the fit starts from.
        on_epoch: called with all log rows after each epoch's checkpoint
            (the run writes `history.csv`).

    Example:

    >>> checkpoint = RunCheckpoint(os.path.join(tmp_dir, "checkpoints"))
    >>> _ = model.fit(mmkeras.make_dataset(spec, splits["train"], pre, training=True), callbacks=[checkpoint], verbose=0)
    >>> read_checkpoint(os.path.join(tmp_dir, "checkpoints"))["epoch"]
    1
    """

    def __init__(self, folder, save_freq="epoch", *, history=(), start=(0, 0), on_epoch=None):
        super().__init__(backup_dir=folder, save_freq=save_freq, delete_checkpoint=False)
        self.rows = [dict(row) for row in history]
        self.start = tuple(start)
        self.on_epoch = on_epoch
        self._epoch, self._steps, self._since_save = self.start[0], self.start[1], 0

    def on_train_begin(self, logs=None):
        pass  # restored before fit (`restore`)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._steps = self.start[1] if (epoch, self.start[1]) == self.start else 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        self._since_save += 1
        if self.save_freq != "epoch" and self._since_save >= self.save_freq:
            self.save(self._epoch, self._steps)

    def on_epoch_end(self, epoch, logs=None):
        self.rows = [r for r in self.rows if r["epoch"] != epoch]
        self.rows.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        self.save(epoch + 1, 0)
        if self.on_epoch is not None:
            self.on_epoch(self.rows)

    def on_train_end(self, logs=None):
        pass  # the last checkpoint stays: `--resume` of a finished run goes straight to evaluation

    def _save_model(self):
        self.save(self._epoch, self._steps)

    def save(self, epoch, step):
        """Writes a checkpoint at (epochs completed, steps into the next epoch) and points `checkpoint.json` at it."""
        self._since_save = 0
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"ckpt-{epoch:05d}-{step:07d}"
        tmp = tempfile.mkdtemp(prefix=".ckpt-tmp-", dir=self.backup_dir)
        try:
            self.model.save_weights(os.path.join(tmp, WEIGHTS_FILE))
            target = os.path.join(self.backup_dir, name)
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        rng = {path: v.numpy().tolist() for path, v in rng_variables(self.model).items()}
        write_json(os.path.join(self.backup_dir, POINTER_FILE),
                   {"folder": name, "epoch": epoch, "step": step, "history": self.rows, "rng": rng})
        kept = sorted(n for n in os.listdir(self.backup_dir) if n.startswith("ckpt-"))
        for old in kept[:-KEEP]:
            if old != name:
                shutil.rmtree(os.path.join(self.backup_dir, old), ignore_errors=True)
