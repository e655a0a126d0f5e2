"""Every fusion type on the shared specs: train, export, reload, serve rows with a missing input.

    python -m benchmarks.fusion_matrix [--quick] [--specs av_digits openmoji] [--fusions concat late ...]

For each shared spec (`../shared/specs/<name>.yaml`) and each registered
fusion type, trains a run directory with `mmkeras.train_run` (the spec's
fusion `type` replaced, its `hidden_units` and `dropout` kept; fewer epochs
than the spec), then:

* reloads the run (`load_run`: `model.keras` + `preprocessor/`) and
  evaluates the test split with the reloaded model: its accuracy must equal
  the one `train_run` wrote to `metrics.json`;
* serves the test split through the exported SavedModel with
  `predict_table` (the `mmkeras predict` path: a CSV of raw paths, strings
  and numbers), once complete and once per blanked input (its cells
  emptied, so that input is missing in every row), and reports the accuracy
  of each.

Prints a table and writes `results/fusion_matrix.json`. Skips a spec whose
file or data is absent. `--quick`: 1 epoch, av_digits only, three fusions.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import yaml

from benchmarks import common

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_SPECS = os.path.join(os.path.dirname(REPO), "shared", "specs")
EPOCHS = {"av_digits": 3, "openmoji": 10}
# Inputs blanked one at a time when served (all of a spec's inputs when not listed).
BLANKED = {"openmoji": ["picture", "name"]}
QUICK_ARGS = ["--quick"]
FULL_ARGS = []


def _spec_dict(name, fusion, epochs):
    path = os.path.join(SHARED_SPECS, f"{name}.yaml")
    with open(path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    spec["fusion"] = {"type": fusion, "hidden_units": spec.get("fusion", {}).get("hidden_units", [128]),
                      "dropout": spec.get("fusion", {}).get("dropout", 0.0)}
    spec["training"]["epochs"] = epochs
    for key in ("path", "root"):  # relative to the shared spec file, made absolute for a dict spec
        if spec["data"].get(key):
            spec["data"][key] = os.path.normpath(os.path.join(SHARED_SPECS, spec["data"][key]))
    return spec


def _accuracy(table, df, output):
    return float((table[f"{output}_label"].astype(str).to_numpy() == df[output].astype(str).to_numpy()).mean())


def check(name, fusion, epochs, workdir):
    """Trains one (spec, fusion) pair and returns its row of the table."""
    import mmkeras
    from mmkeras.data import load_splits
    from mmkeras.tasks.outputs.metrics import evaluate_model
    from mmkeras.runs import load_run, predict_table, train_run

    spec = mmkeras.load_spec(_spec_dict(name, fusion, epochs))
    run = os.path.join(workdir, f"{name}_{fusion}")
    start = time.perf_counter()
    metrics = train_run(spec, run, verbose=False)
    seconds = time.perf_counter() - start
    output = next(iter(spec.outputs))
    column = spec.outputs[output].column
    row = {"spec": name, "fusion": fusion, "epochs": epochs, "train_s": round(seconds, 1),
           "test_accuracy": metrics["test"][output]["accuracy"]}

    _, pre, model = load_run(run)
    test = load_splits(spec)["test"]
    root = spec.data.root or os.path.dirname(spec.data.path)
    reloaded = evaluate_model(model, pre, test, root=root)[output]["accuracy"]
    row["reloaded_accuracy"] = reloaded

    truth = test.rename(columns={column: output})
    served = predict_table(os.path.join(run, "saved_model"), _csv(test, workdir, "full"), root=root)
    row["served_accuracy"] = _accuracy(served, truth, output)
    for blank in BLANKED.get(name, list(spec.inputs)):
        table = test.copy()
        col = spec.inputs[blank].column
        table[col] = np.nan if spec.inputs[blank].type in ("numeric", "boolean") else ""
        served = predict_table(os.path.join(run, "saved_model"), _csv(table, workdir, blank), root=root)
        row[f"served_without_{blank}"] = _accuracy(served, truth, output)
    return row


def _csv(df, workdir, stem):
    path = os.path.join(workdir, f"test_{stem}.csv")
    df.to_csv(path, index=False)
    return path


def main(argv=None):
    import mmkeras

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 epoch, av_digits, three fusions")
    parser.add_argument("--specs", nargs="+", default=["av_digits", "openmoji"])
    parser.add_argument("--fusions", nargs="+", default=None, help="default: every registered fusion")
    parser.add_argument("--epochs", type=int, help="default: 3 for av_digits, 10 for openmoji")
    args = parser.parse_args(argv)
    fusions = args.fusions or sorted(mmkeras.fusion.registry.FUSIONS.names())
    specs = args.specs
    if args.quick:
        specs, fusions = ["av_digits"], args.fusions or ["concat", "gated", "late"]
    rows, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="mmkeras-fusion-matrix-") as workdir:
        for name in specs:
            spec_file = os.path.join(SHARED_SPECS, f"{name}.yaml")
            if not os.path.isfile(spec_file) or not os.path.isdir(os.path.join(SHARED_SPECS, "..", "data", name)):
                skipped.append(name)
                print(f"fusion_matrix: {name} skipped ({spec_file} or its data is absent)")
                continue
            epochs = 1 if args.quick else (args.epochs or EPOCHS.get(name, 3))
            for fusion in fusions:
                row = check(name, fusion, epochs, workdir)
                row["reload_matches"] = abs(row["reloaded_accuracy"] - row["test_accuracy"]) < 1e-9
                rows.append(row)
                print(f"  {name} {fusion}: " + ", ".join(f"{k}={v}" for k, v in row.items()
                                                        if k not in ("spec", "fusion")), flush=True)
    name = "fusion_matrix_quick" if args.quick else "fusion_matrix"
    previous = os.path.join(common.RESULTS_DIR, f"{name}.json")
    if args.fusions and os.path.isfile(previous):  # re-running some fusions replaces only their rows
        import json

        with open(previous, encoding="utf-8") as f:
            done = {(r["spec"], r["fusion"]) for r in rows}
            rows = [r for r in json.load(f).get("results", []) if (r["spec"], r["fusion"]) not in done] + rows
        rows.sort(key=lambda r: (r["spec"], r["fusion"]))
    columns = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("spec", "fusion", "epochs"), k))
    if rows:
        common.print_table("Every fusion type: test accuracy trained, reloaded, served complete and with an "
                           "input missing in every row", rows, columns)
    command = "python -m benchmarks.fusion_matrix " + " ".join(sys.argv[1:] if argv is None else argv)
    goals = [{"figure": "reloaded = trained test accuracy, every fusion and spec",
              "goal": "equal", "value": sum(r["reload_matches"] for r in rows),
              "met": bool(rows) and all(r["reload_matches"] for r in rows)}]
    path = common.write_result(name,
                               {"title": "Every fusion type: trained, reloaded, served with an input missing",
                                "command": command, "goals": goals, "results": rows, "skipped": skipped})
    print(f"written to {path}")
    return {"results": rows, "skipped": skipped}


if __name__ == "__main__":
    main()
