"""Progress on long work: Keras' `Progbar` on a terminal, a few plain lines otherwise, nothing when quiet.

Adapting a preprocessor, caching the first epoch, `convert`, `evaluate`,
`predict`, `cv` and `validate` report their progress through `Progress`.
On a terminal it is Keras' own progress bar (`keras.utils.Progbar`); when
stdout is a file or a pipe (CI logs, `> log.txt`) it prints one plain line
at the start and at every quarter, so logs stay short; `set_quiet(True)`
silences it. The command line shows progress unless `--quiet`; in Python
it is off until `set_quiet(False)` (so library calls, notebooks and tests
print nothing they did not ask for). The per-epoch training line is not a
progress bar and stays as it is.
"""

import contextlib
import sys

import keras

_STATE = {"quiet": True}  # the command line turns progress on (`mmkeras.cli.main`, unless --quiet)
PLAIN_STEPS = 4  # lines per task when stdout is not a terminal (plus the first)


def set_quiet(quiet=True):
    """Silences (or re-enables) every progress bar of the process; returns the previous setting.

    Example:

    >>> previous = set_quiet(False)   # show progress from Python calls
    >>> is_quiet()
    False
    >>> _ = set_quiet(previous)
    """
    previous = _STATE["quiet"]
    _STATE["quiet"] = bool(quiet)
    return previous


def is_quiet():
    """True while progress bars are silenced (`set_quiet`).

    Example:

    >>> isinstance(is_quiet(), bool)
    True
    """
    return _STATE["quiet"]


@contextlib.contextmanager
def quiet(flag=True):
    """A `with` block in which progress bars are silenced (`flag` true) or shown (`flag` false).

    Example:

    >>> with quiet(False):
    ...     is_quiet()
    False
    """
    previous = set_quiet(flag)
    try:
        yield
    finally:
        set_quiet(previous)


class Progress:
    """Progress of `total` steps of work, named by `label`.

    Args:
        total: the number of steps (rows, files, batches), or None when unknown.
        label: what is being done, e.g. `"validate train"`.
        unit: what a step is, for the plain lines (`"rows"`).
        stream: where plain lines go (default `sys.stdout`); a terminal
            stream gets Keras' `Progbar` instead.

    Example:

    >>> import io
    >>> out = io.StringIO()
    >>> with quiet(False), Progress(8, "checking", stream=out) as progress:
    ...     for _ in range(8):
    ...         progress.update()
    >>> print(out.getvalue().strip())
    checking: 0/8 rows
    checking: 2/8 rows (25%)
    checking: 4/8 rows (50%)
    checking: 6/8 rows (75%)
    checking: 8/8 rows (100%)
    """

    def __init__(self, total, label, *, unit="rows", stream=None):
        self.total = None if total is None else int(total)
        self.label = label
        self.unit = unit
        self.done = 0
        self.stream = stream or sys.stdout
        self.silent = is_quiet() or self.total == 0
        self.bar = None
        self._next_line = 1
        if self.silent:
            return
        if _is_terminal(self.stream):
            print(label, file=self.stream, flush=True)
            self.bar = keras.utils.Progbar(self.total, unit_name=unit.rstrip("s") or "step")
        else:
            shown = f"/{self.total}" if self.total is not None else ""
            print(f"{label}: 0{shown} {unit}", file=self.stream, flush=True)

    def update(self, steps=1):
        """Counts `steps` more steps done."""
        self.done += steps
        if self.silent:
            return
        if self.bar is not None:
            self.bar.update(self.done, finalize=self.total is not None and self.done >= self.total)
            return
        if self.total is None:
            return
        crossed = min(PLAIN_STEPS, self.done * PLAIN_STEPS // self.total)  # quarters done
        if crossed >= self._next_line:  # one line per update, at the last quarter crossed
            share = 100 * crossed // PLAIN_STEPS
            print(f"{self.label}: {self.done}/{self.total} {self.unit} ({share}%)", file=self.stream, flush=True)
            self._next_line = crossed + 1

    def close(self):
        """Ends the bar (a total that was unknown is printed now)."""
        if self.silent:
            return
        if self.bar is not None and (self.total is None or self.done < self.total):
            self.bar.update(self.done, finalize=True)
        elif self.bar is None and self.total is None:
            print(f"{self.label}: {self.done} {self.unit}", file=self.stream, flush=True)
        self.silent = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def track(iterable, total, label, *, unit="rows"):
    """Yields the items of `iterable`, counting one step per item on a `Progress`.

    Example:

    >>> [x * 2 for x in track(range(3), 3, "doubling")]
    [0, 2, 4]
    """
    with Progress(total, label, unit=unit) as progress:
        for item in iterable:
            yield item
            progress.update()


class EpochProgress(keras.callbacks.Callback):
    """A Keras callback: a progress bar over the batches of the first epoch (the one that fills a cache).

    Used when `training.cache` keeps decoded examples: the first epoch reads
    and decodes every file and can take much longer than the others.

    Args:
        steps: batches per epoch, or None when unknown.
        label: the bar's label.

    Example:

    >>> callback = EpochProgress(2, "caching the first epoch")
    >>> callback.on_epoch_begin(0); callback.on_train_batch_end(0); callback.on_epoch_end(0)  # quiet by default
    """

    def __init__(self, steps, label="first epoch (filling the cache)"):
        super().__init__()
        self.steps = steps
        self.label = label
        self.progress = None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 0:
            self.progress = Progress(self.steps, self.label, unit="batches")

    def on_train_batch_end(self, batch, logs=None):
        if self.progress is not None:
            self.progress.update()

    def on_epoch_end(self, epoch, logs=None):
        if self.progress is not None:
            self.progress.close()
            self.progress = None


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class BatchProgress(keras.callbacks.Callback):
    """A Keras callback: a progress bar over the batches of `model.predict` (or `evaluate`).

    Args:
        label: the bar's label, e.g. `"evaluate test split"`.
        steps: batches, or None when unknown (e.g. `int(dataset.cardinality())` when positive).

    Example:

    >>> model.predict(mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False), verbose=0,
    ...               callbacks=[BatchProgress("predict")])["label"].shape[1]
    8
    """

    def __init__(self, label, steps=None):
        super().__init__()
        self.label = label
        self.steps = steps
        self.progress = None

    def _begin(self, logs=None):
        self.progress = Progress(self.steps, self.label, unit="batches")

    def _batch(self, batch, logs=None):
        if self.progress is not None:
            self.progress.update()

    def _end(self, logs=None):
        if self.progress is not None:
            self.progress.close()
            self.progress = None

    on_predict_begin = on_test_begin = _begin
    on_predict_batch_end = on_test_batch_end = _batch
    on_predict_end = on_test_end = _end


def dataset_steps(dataset):
    """The number of batches of a `tf.data.Dataset` when it is known, else None (for a progress bar's total).

    Example:

    >>> dataset_steps(tf.data.Dataset.range(10).batch(4)), dataset_steps(tf.data.Dataset.range(3).repeat())
    (3, None)
    """
    steps = int(dataset.cardinality())
    return steps if steps >= 0 else None
