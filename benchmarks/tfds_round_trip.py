"""The TFDS round trip: a spec's table and files built as a TFDS dataset train to the table's test accuracy.

    python -m benchmarks.tfds_round_trip [--spec ../shared/specs/av_digits.yaml] [--epochs 3] [--quick]

Builds the spec's splits as a TFDS dataset (`mmkeras tfds build`'s
`build_tfds_dataset`) in a temporary data folder, then trains the spec twice
from the same seed with `training.deterministic: true` (TF op determinism, so
XLA off): from the table, and from the TFDS dataset (`tfds_spec_dict`). Writes
results/tfds_round_trip.json: both test accuracies (the goal: within 0.01),
whether every epoch's loss matched, the build and training times. Without
`--spec`: the shared av_digits spec (image + audio), or the generated demo data
when ../shared is absent. `--quick`: the generated demo data, 96 rows, 1 epoch.
"""

import argparse
import os
import tempfile
import time

import numpy as np

import mmkeras
from benchmarks import common
from benchmarks.datasets import SHARED_AV_DIGITS, generated_spec
from mmkeras.data.sources.tfds import build_tfds_dataset, tfds_spec_dict
from mmkeras.runs.lifecycle import evaluate_splits, train_model

QUICK_ARGS = ["--quick"]
FULL_ARGS = []


def _train(spec, label):
    start = time.perf_counter()
    trained = train_model(spec, verbose=False)
    seconds = time.perf_counter() - start
    accuracy = evaluate_splits(trained, ("test",))["test"]
    accuracy = next(iter(accuracy.values()))["accuracy"]
    print(f"  {label:<6} test accuracy {accuracy:.4f}  ({seconds:.0f} s)")
    return {"accuracy": accuracy, "seconds": seconds, "loss": [float(v) for v in trained.history.history["loss"]]}


def measure(spec, epochs=None, work=None):
    """Builds `spec`'s data as TFDS and trains from both; returns the figures (see the module docstring)."""
    spec = mmkeras.load_spec(spec).to_dict()
    spec["training"].update({"deterministic": True, "jit_compile": False, **({"epochs": epochs} if epochs else {})})
    work = work or tempfile.mkdtemp(prefix="mmkeras-tfds-")
    start = time.perf_counter()
    built = build_tfds_dataset(spec, os.path.join(work, "tfds"), name="round_trip", verbose=False)
    build_seconds = time.perf_counter() - start
    print(f"{spec['name']}: {built['splits']} examples built as TFDS in {build_seconds:.1f} s; training twice")
    table = _train(spec, "table")
    tfds = _train(tfds_spec_dict(spec, "round_trip", os.path.join(work, "tfds")), "tfds")
    same_loss = bool(np.allclose(table["loss"], tfds["loss"], rtol=1e-4))
    gap = abs(table["accuracy"] - tfds["accuracy"])
    print(f"  |accuracy gap| = {gap:.4f} (goal <= 0.01); every epoch's loss equal: {same_loss}")
    result = {"spec": spec["name"], "splits": built["splits"], "epochs": spec["training"]["epochs"],
              "build_seconds": build_seconds, "table": table, "tfds": tfds, "accuracy_gap": gap,
              "losses_equal": same_loss, "goal_met": gap <= 0.01}
    return {**result, **report_rows(result)}


def report_rows(result):
    """The `title`, `goals` and `results` RESULTS.md renders (`benchmarks.report`) from a round trip's figures."""
    return {"title": f"TFDS round trip on {result['spec']} ({result['epochs']} epochs, deterministic)",
            "goals": [{"figure": "|test accuracy gap|", "goal": "<= 0.01", "value": result["accuracy_gap"],
                       "met": result["accuracy_gap"] <= 0.01}],
            "results": {source: {"test_accuracy": result[source]["accuracy"], "seconds": result[source]["seconds"],
                                 "losses_equal": result["losses_equal"]} for source in ("table", "tfds")}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", help="a table spec (default: ../shared/specs/av_digits.yaml)")
    parser.add_argument("--epochs", type=int, help="override training.epochs")
    parser.add_argument("--quick", action="store_true", help="96 generated rows, 1 epoch")
    args = parser.parse_args(argv)
    if args.quick:
        spec, epochs = generated_spec(96, image_audio_only=False), 1
    else:
        spec = args.spec or (SHARED_AV_DIGITS if os.path.isfile(SHARED_AV_DIGITS) else generated_spec(960))
        epochs = args.epochs
    result = measure(spec, epochs)
    print(f"written to {common.write_result('tfds_round_trip' + ('_quick' if args.quick else ''), result)}")
    return result


if __name__ == "__main__":
    main()
