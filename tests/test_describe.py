"""`mmkeras describe SPEC`: the resolved spec with defaults, inputs' preprocessed shapes and dtypes, the expanded
model summary, and model.png when pydot and Graphviz are there (a one-line note when not)."""

import os

import pytest
import yaml

import mmkeras.reports.describe
from mmkeras.cli import main
from mmkeras.reports.describe import plot_model_available
from mmkeras.testing import tiny_spec_dict


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory, demo_manifest):
    spec = tiny_spec_dict(demo_manifest, jit_compile=False)
    spec["inputs"] = {k: spec["inputs"][k] for k in ("picture", "caption", "reading")}
    path = tmp_path_factory.mktemp("describe") / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_describe_prints_defaults_shapes_and_the_nested_summary(spec_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mmkeras.reports.describe, "plot_model_available", lambda: (False, ["pydot"]))
    assert main(["describe", spec_file]) == 0
    out = capsys.readouterr().out
    resolved = out.split("resolved with every default:")[1].split("\ndata:")[0]
    assert yaml.safe_load(resolved)["training"]["optimizer"] == "adam"          # a default the file never set
    assert yaml.safe_load(resolved)["inputs"]["caption"]["tokenizer"] == "cjk"
    lines = out.splitlines()
    row = next(line.split() for line in lines if line.strip().startswith("picture "))
    assert row[:3] == ["picture", "image", "image_path"] and "".join(row[3:7]) == "(None,32,32,3)"
    assert row[7] == "float32"
    assert any(line.split()[:1] == ["caption"] and "int64" in line for line in lines)
    assert any(line.split()[:1] == ["_presence"] and "(None, 3)" in line for line in lines)
    assert "picture_encoder (Functional)" in out and "└ conv_0 (Conv2D)" in out       # nested encoders expanded
    assert "model.png not drawn: keras.utils.plot_model needs pydot" in out
    assert not os.path.exists(tmp_path / "model.png")


@pytest.mark.skipif(not plot_model_available()[0], reason="pydot or Graphviz (dot) is not installed")
def test_describe_draws_model_png(spec_file, tmp_path, capsys):
    assert main(["describe", spec_file, "--out", str(tmp_path)]) == 0
    assert "model graph drawn into" in capsys.readouterr().out
    with open(tmp_path / "model.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert main(["describe", spec_file, "--out", str(tmp_path)]) == 2     # model.png exists: needs --overwrite
    assert "already exists" in capsys.readouterr().err
