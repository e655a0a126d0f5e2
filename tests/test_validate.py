"""`mmkeras validate`: every row checked before training (columns, files inside the root that decode, numbers,
known labels), a table of the bad rows, `--out bad_rows.csv`, a non-zero exit; and the reusable row checks."""

import os

import pandas as pd
import pytest
import yaml

from mmkeras.cli import main
from mmkeras.data.validate import BadRow, RowChecker, bad_rows_frame, train_targets, validate_rows, validate_spec
from mmkeras.progress import quiet
from mmkeras.specs import load_spec
from mmkeras.testing import tiny_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(manifest, spec dict) of 32 demo rows with picture and sound files (XLA irrelevant: nothing trains)."""
    folder = str(tmp_path_factory.mktemp("validate"))
    manifest, spec = tiny_demo(folder, n=32)
    spec["inputs"] = {k: spec["inputs"][k] for k in ("picture", "sound", "reading", "colour")}
    return manifest, spec


@pytest.fixture(scope="module")
def broken(demo):
    """A copy of the table with one problem per row 1..6 (row numbers as in the table)."""
    manifest, spec = demo
    root = os.path.dirname(manifest)
    df = pd.read_csv(manifest).astype({"reading": object})
    with open(os.path.join(root, "broken.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n not really")
    with open(os.path.join(os.path.dirname(root), "outside.png"), "wb") as f:
        f.write(b"")
    test_rows = df.index[df["split"] == "test"].tolist()
    df.loc[1, "reading"] = "twelve"
    df.loc[2, "image_path"] = "images/missing.png"
    df.loc[3, "image_path"] = "../outside.png"
    df.loc[4, "image_path"] = "broken.png"
    df.loc[5, "audio_path"] = "broken.png"
    df.loc[test_rows[0], "label"] = "hexagon"
    table = os.path.join(root, "broken.csv")
    df.to_csv(table, index=False)
    return table, test_rows[0]


def test_a_clean_table_has_no_bad_rows(demo, capsys):
    manifest, spec = demo
    with quiet(False):
        assert validate_spec(spec) == []
    out = capsys.readouterr().out
    assert "validate train: 0/" in out and "(100%)" in out          # plain progress lines: stdout is not a TTY


def test_every_bad_row_is_listed_with_row_column_file_and_reason(demo, broken):
    manifest, spec = demo
    table, label_row = broken
    bad = {(b.row, b.column): b for b in validate_spec(spec, data=table)}
    assert sorted(bad) == sorted([(1, "reading"), (2, "image_path"), (3, "image_path"), (4, "image_path"),
                                  (5, "audio_path"), (label_row, "label")])
    assert bad[(1, "reading")].reason == "'twelve' is not a number"
    assert bad[(2, "image_path")].reason.startswith("file not found") and bad[(2, "image_path")].file == \
        "images/missing.png"
    assert bad[(3, "image_path")].reason.startswith("the path leaves the data root")
    assert bad[(4, "image_path")].reason.startswith("does not decode: Invalid PNG")
    assert "broken.png" in bad[(5, "audio_path")].reason
    assert "hexagon" in bad[(label_row, "label")].reason and bad[(label_row, "label")].split == "test"


def test_missing_columns_and_unreadable_outputs_are_whole_column_problems(demo):
    manifest, spec = demo
    df = pd.read_csv(manifest).drop(columns=["colour_name"])
    bad = validate_rows(spec, df, split="train", decode=False)
    assert [(b.row, b.column) for b in bad] == [(None, "colour_name")]
    assert bad[0].reason.startswith("column missing")
    targets, problems = train_targets(load_spec(spec), df.assign(label="one class"))
    assert targets == {} and problems[0].column == "label" and "fewer than two" in problems[0].reason


def test_row_checker_is_reusable_across_tables(demo):
    manifest, spec = demo
    df = pd.read_csv(manifest)
    targets, _ = train_targets(load_spec(spec), df[df["split"] == "train"])
    checker = RowChecker(spec, targets=targets)
    assert checker.check(df.iloc[:4], "a") == []
    bad = checker.check(df.iloc[:4].assign(label="unknown"), "b")
    assert [b.row for b in bad] == [0, 1, 2, 3] and {b.split for b in bad} == {"b"}
    assert len(checker.decoders) == 2                               # traced once per file input, reused


def test_validate_command_prints_a_table_writes_csv_and_fails(demo, broken, tmp_path, capsys):
    manifest, spec = demo
    table, _ = broken
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    out = tmp_path / "bad_rows.csv"
    assert main(["validate", str(spec_file), "--data", table, "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "6 bad rows" in printed and "'twelve' is not a number" in printed
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["split", "row", "column", "file", "reason"] and len(frame) == 6
    assert main(["validate", str(spec_file), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "validate train" not in printed and "every row is good" in printed


def test_bad_rows_frame_keeps_whole_column_problems():
    frame = bad_rows_frame([BadRow("train", None, "label", "", "column missing")])
    assert frame["row"].isna().all() and frame.iloc[0]["reason"] == "column missing"
