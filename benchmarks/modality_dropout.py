"""Modality dropout: does a fused model cope when one modality is removed at test time?

    python -m benchmarks.modality_dropout [--quick] [--epochs N] [--rate 0.3] [--train-rows N]

On the shared av_digits set (a handwritten digit image and a spoken digit,
one label), trains four models with the same seed and settings:

* fused (concat), `training.modality_dropout: 0`,
* fused (concat), `training.modality_dropout: RATE`,
* image only, speech only (the single-modality references).

Each fused model is evaluated on the test split with both inputs, with the
image removed (its path left empty: the model sees its learned "missing"
embedding) and with the speech removed. The claim to check: with modality
dropout the fused model, missing one input, stays close to the model trained
on the remaining input alone; without it, it degrades more. Skips cleanly
when ../shared/data is absent. `--quick`: a subset of the train split and a
few epochs (checks that it runs; the gap shows already but is noisier).
"""

import argparse
import os
import sys
import time

import yaml

import mmkeras
from benchmarks import common
from benchmarks.datasets import SHARED_AV_DIGITS, av_digits_spec
from mmkeras.tasks.outputs.metrics import evaluate_model

QUICK_ARGS = ["--quick"]
FULL_ARGS = ["--epochs", "6"]  # all train rows; 6 epochs keeps the four trainings near 6 minutes


def _knock_out(df, column):
    df = df.copy()
    df[column] = ""
    return df


def _train(spec_dict, train, validation, verbose):
    spec = mmkeras.load_spec(spec_dict, base_dir=os.path.dirname(SHARED_AV_DIGITS))
    pre = mmkeras.Preprocessor(spec).adapt(train)
    model = mmkeras.build_model(spec, pre)
    start = time.perf_counter()
    val = mmkeras.make_dataset(spec, validation, pre) if validation is not None else None
    model.fit(mmkeras.make_dataset(spec, train, pre, training=True), validation_data=val,
              epochs=spec.training.epochs, verbose=2 if verbose else 0)
    return spec, pre, model, time.perf_counter() - start


def _accuracy(model, pre, df, output):
    return evaluate_model(model, pre, df, table="test split")[output]["accuracy"]


def main(argv=None):
    """Trains and evaluates the four av_digits models; prints the tables, writes the JSON; returns the rows.

    Example:

    >>> rows = main(["--quick"])
    >>> rows[1]["model"]
    'fused, modality_dropout 0.3'
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a train subset and few epochs")
    parser.add_argument("--epochs", type=int, help="default: the spec's (15), 4 with --quick")
    parser.add_argument("--rate", type=float, default=0.3, help="modality dropout of the second fused model")
    parser.add_argument("--train-rows", type=int, help="train on this many rows (default: all; 800 with --quick)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    base = av_digits_spec()
    if base is None:
        print("modality_dropout: skipped (../shared/specs/av_digits.yaml or its data is absent)")
        return {"skipped": "av_digits absent"}
    epochs = args.epochs or (4 if args.quick else base.training.epochs)
    train_rows = args.train_rows or (800 if args.quick else None)
    splits = mmkeras.load_splits(base)
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    if train_rows:
        train = train.sample(n=min(train_rows, len(train)), random_state=0).reset_index(drop=True)
    with open(SHARED_AV_DIGITS, encoding="utf-8") as f:
        spec_dict = yaml.safe_load(f)
    spec_dict["training"] = {**spec_dict["training"], "epochs": epochs, "cache": "memory"}
    names = list(base.inputs)  # image, speech
    output = next(iter(base.outputs))
    columns = {n: base.inputs[n].column for n in names}
    tables = {"both": test, **{f"no {n}": _knock_out(test, columns[n]) for n in names}}

    rows, timings = [], {}
    for rate in (0.0, args.rate):
        d = {**spec_dict, "training": {**spec_dict["training"], "modality_dropout": rate}}
        spec, pre, model, seconds = _train(d, train, validation, args.verbose)
        timings[f"fused p={rate}"] = seconds
        row = {"model": f"fused, modality_dropout {rate:g}"}
        for key, df in tables.items():
            row[key] = _accuracy(model, pre, df, output)
        rows.append(row)
    for name in names:
        d = {**spec_dict, "inputs": {name: spec_dict["inputs"][name]}}
        spec, pre, model, seconds = _train(d, train, validation, args.verbose)
        timings[f"{name} only"] = seconds
        row = {"model": f"{name} only", "both": None}
        for other in names:
            row[f"no {other}"] = None if other == name else _accuracy(model, pre, test, output)
        rows.append(row)

    columns_shown = ["model", "both"] + [f"no {n}" for n in names]
    common.print_table(f"Modality dropout on av_digits: test accuracy ({len(test)} rows; trained on {len(train)} "
                       f"rows, {epochs} epochs; 'no X' = X removed at test time)", rows, columns_shown)
    # Accuracy of each single-input model (stored under "no <the other input>").
    singles = {n: next(r for r in rows if r["model"] == f"{n} only")[f"no {o}"]
               for n in names for o in names if o != n}
    gaps = []
    for r in rows[:2]:
        for n in names:
            remaining = [o for o in names if o != n][0]
            gaps.append({"model": r["model"], "removed": n,
                         "gap_to_single": singles[remaining] - r[f"no {n}"]})
    common.print_table("Gap to the single-modality model of the remaining input (lower is better)", gaps,
                       ["model", "removed", "gap_to_single"])
    path = common.write_result("modality_dropout_quick" if args.quick else "modality_dropout", {
        "args": vars(args), "epochs": epochs, "train_rows": len(train), "test_rows": len(test),
        "command": " ".join(["python -m benchmarks.modality_dropout", *(sys.argv[1:] if argv is None else argv)]),
        "results": rows, "gaps": gaps, "train_seconds": timings, "load": common.load_snapshot(0.2)})
    print(f"\nwritten to {path}")
    return rows


if __name__ == "__main__":
    main()
