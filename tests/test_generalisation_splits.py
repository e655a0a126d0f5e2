"""Group-aware splitting (`data.split.group`) and leave-groups-out cross-validation (`mmkeras cv --group-by`)."""

import json

import numpy as np
import pandas as pd
import pytest

import mmkeras
from mmkeras.cli import main
from mmkeras.data.sources.split import group_folds, group_split
from mmkeras.errors import DataError
from mmkeras.runs.cv import cross_validate
from mmkeras.specs import SpecError, load_spec

SPEAKERS = ["ann", "bob", "cid", "dee", "eve", "fay"]


def table(tmp_path, n_per=12, speakers=SPEAKERS):
    """A tiny table: one numeric input that predicts the label, a speaker column, two classes per speaker."""
    rng = np.random.default_rng(0)
    rows = []
    for s in speakers:
        for i in range(n_per):
            label = ["zero", "one"][i % 2]
            rows.append({"speaker": s, "x": (i % 2) * 2.0 + rng.normal(0, 0.1), "label": label})
    path = tmp_path / "t.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def spec_dict(path, **split):
    return {"spec_version": 1, "name": "groups", "data": {"path": path, "split": split},
            "inputs": {"x": {"type": "numeric", "column": "x"}},
            "fusion": {"hidden_units": [4]},
            "outputs": {"label": {"type": "classification", "column": "label"}},
            "training": {"epochs": 1, "batch_size": 8, "seed": 3, "jit_compile": False}}


def speakers_of(df):
    return set(df["speaker"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_split_keeps_groups_whole_stratified_and_near_the_fractions(seed):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"g{i}" for i in range(20)], rng.integers(3, 12, size=20))
    labels = rng.choice(["a", "b", "c"], size=len(groups))
    parts = group_split(groups, labels, [0.6, 0.2, 0.2], seed)
    sets = [set(groups[p]) for p in parts]
    assert all(sets) and not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(len(p) for p in parts) == len(groups)                       # fractions summing to 1 use every row
    for part, fraction in zip(parts, [0.6, 0.2, 0.2]):
        assert abs(len(part) / len(groups) - fraction) < 0.1
        assert set(labels[part]) == {"a", "b", "c"}                       # stratified: every class in every part
    again = group_split(groups, labels, [0.6, 0.2, 0.2], seed)
    assert all((a == b).all() for a, b in zip(parts, again))             # seeded


def test_group_split_errors_name_the_column_and_the_groups():
    with pytest.raises(DataError, match=r"t.csv, column 'speaker': 2 group\(s\) \(a, b\) cannot fill 3 splits"):
        group_split(np.array(["a", "b"]), None, [0.6, 0.2, 0.2], 0, column="speaker", table="t.csv")
    with pytest.raises(DataError, match="cannot make 3 leave-groups-out folds; use --folds 2 or fewer"):
        group_folds(np.array(["a", "b"]), None, 3, 0, column="speaker")


def test_group_folds_leave_one_group_out_and_stratified():
    groups = np.repeat(SPEAKERS, 4)
    assignment, names = group_folds(groups, None, len(SPEAKERS), seed=1)
    assert sorted(n[0] for n in names) == SPEAKERS and all(len(n) == 1 for n in names)
    for k, (name,) in enumerate(names):
        assert set(groups[assignment == k]) == {name}
    labels = np.tile(["a", "b"], len(groups) // 2)
    assignment, names = group_folds(groups, labels, 3, seed=1)
    assert sorted(sum(names, [])) == SPEAKERS and all(len(n) == 2 for n in names)
    assert [len(set(labels[assignment == k])) for k in range(3)] == [2, 2, 2]


def test_spec_group_split_on_fractions_and_carved_validation(tmp_path):
    path = table(tmp_path)
    spec = load_spec(spec_dict(path, group="speaker", train=0.5, validation=0.2, test=0.3))
    assert spec.data.split.group == "speaker"
    splits = mmkeras.load_splits(spec)
    sets = [speakers_of(splits[k]) for k in ("train", "validation", "test")]
    assert all(sets) and sum(len(s) for s in sets) == len(SPEAKERS)          # disjoint, every speaker placed
    assert set(splits["test"]["label"]) == {"zero", "one"}
    # a split column for test, validation carved out of train by speaker
    df = pd.read_csv(path)
    df["part"] = np.where(df["speaker"].isin(["eve", "fay"]), "test", "train")
    df.to_csv(path, index=False)
    spec = load_spec(spec_dict(path, group="speaker", column="part", validation=0.25, test="test"))
    splits = mmkeras.load_splits(spec)
    assert speakers_of(splits["test"]) == {"eve", "fay"}
    assert speakers_of(splits["train"]).isdisjoint(speakers_of(splits["validation"]))
    assert len(speakers_of(splits["validation"])) == 1


def test_spec_group_split_errors(tmp_path):
    path = table(tmp_path)
    with pytest.raises(SpecError, match="data.split.group: '' must name the table column"):
        load_spec(spec_dict(path, group="", train=0.8, test=0.2))
    with pytest.raises(DataError, match="has no column 'singer'"):
        mmkeras.load_splits(load_spec(spec_dict(path, group="singer", train=0.8, test=0.2)))
    few = table(tmp_path, speakers=["ann", "bob"])
    with pytest.raises(DataError, match=r"column 'speaker': 2 group\(s\) .* cannot fill 3 splits"):
        mmkeras.load_splits(load_spec(spec_dict(few, group="speaker", train=0.6, validation=0.2, test=0.2)))
    df = pd.read_csv(path)
    df["part"] = np.where(np.arange(len(df)) % 3 == 0, "test", "train")    # every speaker in both
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"group\(s\) \['ann', .* have rows in both the train and the test split"):
        mmkeras.load_splits(load_spec(spec_dict(path, group="speaker", column="part", test="test")))
    df.loc[3, "speaker"] = None
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match="row 3, column 'speaker': no group"):
        mmkeras.load_splits(load_spec(spec_dict(path, group="speaker", train=0.8, test=0.2)))


def test_cv_group_by_leaves_out_whole_speakers(tmp_path, capsys):
    path = table(tmp_path, n_per=6, speakers=SPEAKERS[:2])
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec_dict(path, train=1.0)))
    out = tmp_path / "cv"
    assert main(["cv", str(spec_path), "--folds", "2", "--group-by", "speaker", "--out", str(out)]) == 0
    assert "leaving out whole groups of 'speaker'" in capsys.readouterr().out
    result = json.load(open(out / "cv.json"))
    assert result["group_by"] == "speaker"
    assert sorted(f["held_out_groups"][0] for f in result["per_fold"]) == SPEAKERS[:2]   # leave-one-speaker-out
    assert all(f["test_rows"] == 6 and f["train_rows"] == 6 for f in result["per_fold"])
    with pytest.raises(DataError, match="cannot make 3 leave-groups-out folds"):
        cross_validate(str(spec_path), 3, group_by="speaker", verbose=False)
    with pytest.raises(DataError, match="has no column 'singer'"):
        cross_validate(str(spec_path), 2, group_by="singer", verbose=False)
