"""Bad rows and bad tables: the check before training (`data.on_error`) names row, column and file, or skips."""

import os

import pandas as pd
import pytest

from robust_cases import ROW_CASES, TABLE_CASES
from mmkeras.data.prepass import check_source, reason_kind
from mmkeras.data.sources.table import TableSource, load_splits, read_table
from mmkeras.errors import DataError
from mmkeras.progress import quiet
from mmkeras.specs import load_spec
from mmkeras.testing import tiny_demo

TF_NOISE = ("{{function_node", "[[", "Traceback", "Detected at node", "Graph execution error")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(data root, spec dict, splits): 24 demo rows; validation and test hold only classes seen twice in train
    (after train row 0, the bad one, the others are still known)."""
    manifest, spec = tiny_demo(str(tmp_path_factory.mktemp("robust")), n=24)
    splits = load_splits(load_spec(spec))
    seen = set(splits["train"]["label"][1:])
    for split in ("validation", "test"):
        splits[split] = splits[split][splits[split]["label"].isin(seen)].reset_index(drop=True)
    return os.path.dirname(manifest), spec, splits


def _one_input(spec, name, **data):
    """The spec with only input `name` (the label case keeps `reading`), and `data` keys set."""
    spec = dict(spec, data=dict(spec["data"], **data))
    keep = "reading" if name == "label" else name
    spec["inputs"] = {keep: spec["inputs"][keep]}
    return load_spec(spec)


def _with_cell(demo, case, **data):
    root, spec_dict, splits = demo
    spec = _one_input(spec_dict, case.input, **data)
    column = spec.outputs["label"].column if case.input == "label" else spec.inputs[case.input].column
    parts = {k: v.astype({column: object}) for k, v in splits.items()}
    cell = case.make(root)
    parts[case.split].loc[0, column] = cell
    return spec, TableSource(spec, parts), column, cell


@pytest.mark.parametrize("case", ROW_CASES, ids=[c.id for c in ROW_CASES])
def test_row_case(demo, case):
    spec, source, column, cell = _with_cell(demo, case)
    with quiet(True):
        if case.expect is None:
            assert check_source(spec, source) == (source, [])
            return
        with pytest.raises(DataError) as raised:
            check_source(spec, source)
        message = str(raised.value)
        assert message.startswith(f"Row 0 of {case.split} split (manifest.csv), column '{column}'")
        if spec.inputs.get(case.input) is not None and spec.inputs[case.input].is_file:
            assert f", file {cell}:" in message
        assert case.expect in message and "data.on_error: skip" in message
        assert not any(noise in message for noise in TF_NOISE)
        skip = load_spec(dict(spec.to_dict(), data=dict(spec.to_dict()["data"], on_error="skip")))
        kept, bad = check_source(skip, TableSource(skip, source.splits))
    assert [(b.split, b.row, b.column) for b in bad] == [(case.split, 0, column)]
    assert bad[0].reason.startswith(case.expect), bad[0].reason
    assert kept.sizes()[case.split] == source.sizes()[case.split] - 1
    assert reason_kind(bad[0].reason) and "/" not in reason_kind(bad[0].reason)


def test_outside_root_is_accepted_when_allowed(demo):
    case = next(c for c in ROW_CASES if c.id == "symlink_out")
    spec, source, column, cell = _with_cell(demo, case, allow_outside_root=True)
    with quiet(True):
        assert check_source(spec, source) == (source, [])


def _table_case(case, demo, tmp_path):
    root, spec_dict, splits = demo
    spec = _one_input(spec_dict, "reading")
    df = pd.read_csv(os.path.join(root, "manifest.csv"))
    table = os.path.join(root, f"{case.id}.csv")
    if case.id == "duplicate_columns":
        df.insert(0, "reading", df.pop("reading"), allow_duplicates=True)
        df.insert(1, "reading", df["reading"], allow_duplicates=True)
    if case.id == "empty_split":
        df = df[df["split"] != "test"]
    if case.id == "missing_column":
        df = df.drop(columns=["reading"])
    if case.id == "every_row_bad":
        df = df.astype({"reading": object})
        df.loc[df["split"] == "train", "reading"] = "twelve"
        spec = load_spec(dict(spec.to_dict(), data=dict(spec.to_dict()["data"], on_error="skip")))
    if case.id == "table_not_utf8":
        df.loc[0, "text"] = "caf\xe9 cr\xe8me"
        df.to_csv(table, index=False, encoding="latin-1")
    else:
        df.to_csv(table, index=False)
    spec = spec.with_data(path=table)
    return check_source(spec, TableSource(spec))


@pytest.mark.parametrize("case", TABLE_CASES, ids=[c.id for c in TABLE_CASES])
def test_table_case(demo, case, tmp_path):
    with quiet(True), pytest.raises(DataError) as raised:
        _table_case(case, demo, tmp_path)
    message = str(raised.value)
    assert case.expect in message and f"{case.id}.csv" in message, message
    assert not any(noise in message for noise in TF_NOISE)


def test_read_table_names_the_file_of_a_binary_table(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"\x00\x01 not parquet")
    with pytest.raises(DataError, match="t.parquet"):
        read_table(str(path))
