"""The README's spec reference is generated from the spec dataclasses and registries, and is current."""

import os
import subprocess
import sys

from mmkeras.specs import schema
from mmkeras.specs.reference import BEGIN, END, main, replace_reference, spec_reference

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")


def test_readme_spec_reference_is_current():
    result = subprocess.run([sys.executable, "-m", "mmkeras.specs.reference", "--check", README],
                            capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_spec_key_is_in_the_reference():
    text = spec_reference()
    for cls, prefix in ((schema.TrainingSpec, "training."), (schema.FusionSpec, "fusion."),
                        (schema.TaskSpec, "task."), (schema.SplitSpec, "data.split.")):
        for f in cls.__dataclass_fields__:
            if f != "options":
                assert f"`{prefix}{f}`" in text, f"{prefix}{f}"
    for cls in schema.INPUT_CLASSES.values():
        for f in cls.__dataclass_fields__:
            if f != "name":
                assert f"`inputs.<name>.{f}`" in text, f
    assert "| `training.cache` | str | none | none, memory, disk |" in text
    assert "`audio: crnn` | `filters` ([32, 64])" in text


def test_a_stale_reference_fails_the_check(tmp_path, capsys):
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n{BEGIN}\n| old |\n{END}\nafter\n")
    assert main(["--check", str(stale)]) == 1
    assert "not current" in capsys.readouterr().err
    assert main(["--write", str(stale)]) == 0 and main(["--check", str(stale)]) == 0
    text = stale.read_text()
    assert text.startswith(f"# x\n{BEGIN}\n**Top level**") and text.endswith(f"{END}\nafter\n")
    assert replace_reference(text) == text
