"""Progress bars: Keras' Progbar on a terminal, a few plain lines otherwise, nothing when quiet."""

import io

import keras
import pytest

from mmkeras.progress import EpochProgress, Progress, is_quiet, quiet, set_quiet, track


@pytest.fixture(autouse=True)
def shown():
    """Progress is off in Python by default (the command line turns it on); these tests look at it."""
    with quiet(False):
        yield


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    with Progress(10, "convert train", unit="examples", stream=out) as progress:
        for _ in range(10):
            progress.update()
    assert out.getvalue().splitlines() == ["convert train: 0/10 examples", "convert train: 3/10 examples (25%)",
                                           "convert train: 5/10 examples (50%)", "convert train: 8/10 examples (75%)",
                                           "convert train: 10/10 examples (100%)"]


def test_a_terminal_gets_keras_progbar():
    out = Terminal()
    progress = Progress(4, "validate test", stream=out)
    assert isinstance(progress.bar, keras.utils.Progbar)
    assert out.getvalue() == "validate test\n"


def test_unknown_total_prints_the_count_at_the_end():
    out = io.StringIO()
    with Progress(None, "caching", unit="batches", stream=out) as progress:
        progress.update(3)
    assert out.getvalue().splitlines() == ["caching: 0 batches", "caching: 3 batches"]


def test_quiet_silences_everything():
    out = io.StringIO()
    with quiet():
        assert is_quiet()
        with Progress(4, "x", stream=out) as progress:
            progress.update(4)
        assert list(track(range(3), 3, "y")) == [0, 1, 2]
    assert not is_quiet() and out.getvalue() == ""
    previous = set_quiet(True)
    assert previous is False and set_quiet(previous) is True


def test_python_calls_are_quiet_unless_asked(capsys):
    with quiet(True):
        with Progress(3, "x") as progress:
            progress.update(3)
    assert capsys.readouterr().out == ""


def test_epoch_progress_covers_the_first_epoch_only(capsys):
    callback = EpochProgress(2, "first epoch")
    for epoch in range(2):
        callback.on_epoch_begin(epoch)
        for batch in range(2):
            callback.on_train_batch_end(batch)
        callback.on_epoch_end(epoch)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["first epoch: 0/2 batches", "first epoch: 1/2 batches (50%)", "first epoch: 2/2 batches (100%)"]
