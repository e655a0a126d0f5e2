"""Mixed precision: does `training.precision` keep the accuracy of float32, and what does it cost?

    python -m benchmarks.precision [--epochs 3] [--tolerance 0.02] [--precisions float32 mixed_bfloat16 ...]

On `../shared/specs/av_digits.yaml` (skipped, with a message, when absent)
the same spec is trained once per precision with the same seed (the same
initial weights and data order), for `--epochs` epochs, from one adapted
preprocessor. Reported per precision: test accuracy, its difference from
float32 against `--tolerance`, the median train-step time of epochs 2+, and,
for the mixed runs, that the exported SavedModel serves in a Python without
mmkeras (accuracy on raw file bytes of the test rows, largest difference of
its probabilities from the in-memory model's).

`mixed_float16` stops after its first epoch when that took more than
`--max-slowdown` times float32's (on a CPU without float16 arithmetic it can
be far slower); its row then says how slow it was.
"""

import argparse
import os
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def train_one(spec, pre, splits, precision, epochs, first_epoch_limit=None):
    """Builds and trains the spec at one precision; returns (model, spec, epoch times in s, steps per epoch).

    Training stops after the first epoch when it took more than `first_epoch_limit` seconds.

    Example:

    >>> model, spec, times, steps = train_one(spec, pre, splits, "mixed_bfloat16", 3)
    """
    import mmkeras

    spec = mmkeras.load_spec({**spec.to_dict(), "training": {**spec.to_dict()["training"],
                                                             "precision": precision, "epochs": epochs}})
    model = mmkeras.build_model(spec, pre)  # seeds keras from training.seed
    train = mmkeras.make_dataset(spec, splits["train"], pre, training=True, table="train split")
    from benchmarks.pipeline import _epoch_timer

    timer = _epoch_timer(first_epoch_limit)
    model.fit(train, epochs=epochs, verbose=0, callbacks=[timer])
    steps = len(splits["train"]) // spec.training.batch_size
    return model, spec, timer.times, steps


def serving_check(model, pre, spec, df):
    """Exports `model` and serves `df`'s raw inputs in a Python without mmkeras.

    Returns the served accuracy, the largest |served - in-memory| probability
    and the dtype of the served probabilities.

    Example:

    >>> serving_check(model, pre, spec, splits["test"].head(64))["served_accuracy"]
    0.97
    """
    import mmkeras
    from mmkeras.demo.run import raw_batch
    from mmkeras.export.serving import serve_in_subprocess

    out = next(iter(spec.outputs))
    path = mmkeras.export_saved_model(model, pre, os.path.join(tempfile.mkdtemp(prefix="mmkeras-prec-"), "export"))
    served = serve_in_subprocess(path, raw_batch(spec, df, spec.data.root))
    probs = served[f"{out}_probabilities"]
    in_memory = model.predict(mmkeras.make_dataset(spec, df, pre, with_targets=False), verbose=0)
    in_memory = in_memory[out] if isinstance(in_memory, dict) else in_memory
    labels = [v.decode() if isinstance(v, bytes) else str(v) for v in served[f"{out}_label"]]
    truth = [str(v) for v in df[spec.outputs[out].column]]
    return {"served_accuracy": float(np.mean([a == b for a, b in zip(labels, truth)])),
            "served_vs_in_memory_max_abs": float(np.max(np.abs(probs - np.asarray(in_memory, np.float32)))),
            "served_dtype": str(probs.dtype)}


def main(argv=None):
    """Trains av_digits once per precision and compares; writes results/precision.json.

    Example:

    >>> main(["--quick"])
    """
    import keras

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.02, help="largest |accuracy - float32's| allowed")
    parser.add_argument("--precisions", nargs="*", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--max-slowdown", type=float, default=3.0,
                        help="stop mixed_float16 when its first epoch is slower than this many float32 epochs")
    parser.add_argument("--serve-rows", type=int, default=128, help="test rows served from the export")
    parser.add_argument("--quick", action="store_true", help="1 epoch, float32 and mixed_bfloat16, 32 rows served")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.precisions, args.serve_rows = 1, ["float32", "mixed_bfloat16"], 32
    import mmkeras
    from benchmarks.datasets import SHARED_AV_DIGITS, av_digits_spec
    from mmkeras.tasks.outputs.metrics import evaluate_model

    spec = av_digits_spec()
    if spec is None:
        print(f"{SHARED_AV_DIGITS} (or its data) is absent: skipping the mixed precision check")
        common.write_result("precision_quick" if args.quick else "precision", {"args": vars(args), "skipped": "av_digits is absent",
                                          "results": []})
        return []
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    precisions = ["float32"] + [p for p in args.precisions if p != "float32"]
    rows = []
    try:
        for precision in precisions:
            row = {"precision": precision, "epochs": args.epochs}
            limit = args.max_slowdown * rows[0]["first_epoch_s"] if precision == "mixed_float16" and rows else None
            model, run_spec, times, steps = train_one(spec, pre, splits, precision, args.epochs, limit)
            if limit is not None and times[0] > limit:
                rows.append({**row, "first_epoch_s": times[0], "note":
                             f"stopped: first epoch {times[0]:.0f} s, {times[0] / rows[0]['first_epoch_s']:.1f}x "
                             f"float32's (> --max-slowdown {args.max_slowdown:g}; no fast float16 on this CPU)"})
                continue
            test = evaluate_model(model, pre, splits["test"], table="test split")
            out = next(iter(spec.outputs))
            later = times[1:] or times
            row.update({"test_accuracy": test[out]["accuracy"], "first_epoch_s": times[0],
                        "step_ms": statistics.median(later) / max(steps, 1) * 1e3,
                        "policy": model.dtype_policy.name, "output_dtype": str(model.outputs[0].dtype)})
            if len(times) == 1:
                row["note"] = "1 epoch: step time includes XLA compilation"
            if precision != "float32":
                row.update(serving_check(model, pre, run_spec, splits["test"].head(args.serve_rows)))
            rows.append(row)
            print(f"  {precision}: test accuracy {row['test_accuracy']:.4f}, {row['step_ms']:.1f} ms/step", flush=True)
    finally:
        keras.config.set_dtype_policy("float32")
    base = rows[0]
    for r in rows:
        if "test_accuracy" in r:
            r["delta_vs_float32"] = r["test_accuracy"] - base["test_accuracy"]
            r["within_tolerance"] = abs(r["delta_vs_float32"]) <= args.tolerance
            r["step_time_vs_float32"] = r["step_ms"] / base["step_ms"]
    common.print_table(f"Mixed precision on av_digits, {args.epochs} epoch(s), same seed "
                       f"(goal: |test accuracy - float32's| <= {args.tolerance:g})", rows,
                       ["precision", "test_accuracy", "delta_vs_float32", "within_tolerance", "step_ms",
                        "step_time_vs_float32", "served_accuracy", "served_vs_in_memory_max_abs", "note"])
    path = common.write_result("precision_quick" if args.quick else "precision", {"args": vars(args), "tolerance": args.tolerance,
                                             "train_rows": len(splits["train"]), "test_rows": len(splits["test"]),
                                             "results": rows})
    print(f"\nwritten to {path}")
    return rows


if __name__ == "__main__":
    main()
