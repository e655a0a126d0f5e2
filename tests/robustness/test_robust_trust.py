"""Untrusted artefacts: the package neither pickles nor evaluates code from what it reads."""

import os
import re

import mmkeras

PACKAGE = os.path.dirname(mmkeras.__file__)
FORBIDDEN = re.compile(r"\bimport (c?pickle|marshal|dill|shelve)\b|\bpickle\.|\bmarshal\.|(?<![\w.])eval\(|"
                       r"(?<![\w.])exec\(|allow_pickle=True|yaml\.(unsafe_)?load\(|yaml\.Loader\b|"
                       r"safe_mode=False|torch\.load\(")


def test_no_pickle_marshal_or_eval_in_the_package():
    found = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        if FORBIDDEN.search(line):
                            found.append(f"{os.path.relpath(path, PACKAGE)}:{number}: {line.strip()}")
    assert found == []


def test_the_pattern_finds_what_it_forbids():
    for line in ("import pickle", "x = pickle.loads(b)", "eval(text)", "np.load(p, allow_pickle=True)",
                 "yaml.load(text)", "keras.saving.load_model(p, safe_mode=False)"):
        assert FORBIDDEN.search(line), line
    for line in ("model.evaluate(x)", "yaml.safe_load(text)", "spec.loader.exec_module(module)", "np.load(p)"):
        assert not FORBIDDEN.search(line), line


def test_a_full_disk_leaves_the_previous_file_and_says_so(tmp_path, monkeypatch):
    import errno
    import json

    import pytest

    from mmkeras.files import write_file, write_json

    path = str(tmp_path / "metrics.json")
    write_json(path, {"test": 1})

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left on the device while writing .*metrics.json"):
        write_file(path, full)
    monkeypatch.setattr(json, "dump", full)
    with pytest.raises(OSError) as raised:
        write_json(path, {"test": 2})
    assert raised.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == ["metrics.json"]                   # no temporary file left
    with open(path) as f:
        assert f.read() == '{\n "test": 1\n}'


def test_the_cli_reports_a_full_disk_in_one_line(monkeypatch, capsys):
    import errno

    from mmkeras import cli

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on the device while writing run/model.keras")

    monkeypatch.setitem(cli.COMMANDS, "export", full)
    assert cli.main(["export", "run"]) == 2
    assert capsys.readouterr().err == ("mmkeras export: error: [Errno 28] No space left on the device while writing "
                                       "run/model.keras\n")
