"""The device benchmark: what mmkeras does on a GPU/TPU, in one command of under 8 minutes.

    python -m benchmarks --device [--dry-run]        (or python -m benchmarks.device [--dry-run] [--parts ...])

Parts, in this order (a part that would start after `--budget-s` seconds is
skipped and listed as such, so the command ends in time on a slow device):

- `xla`: train-step time with `jit_compile` on and off, per fusion type, fed
  from memory (figure 4's method, `benchmarks.xla.step_time`), and what the
  default (`auto`) chose.
- `throughput`: examples/s of the train step at a realistic batch
  (`--batch`, default 256), fed from memory and from the files.
- `efficiency`: files-fed / memory-fed examples/s at the spec's batch
  (figure 1's method, `benchmarks.pipeline.pipeline_efficiency`): on a GPU the
  input pipeline, not the step, is what can bound training.
- `precision`: float32, mixed_float16 and mixed_bfloat16 trained from the
  same seed: median step time of epochs 2+ and test accuracy.
- `encoders`: the `crnn` audio encoder and the `bilstm` text encoder trained
  with `jit_compile: true`, checked to really run under XLA.

Each part records the accelerator's peak memory (`tf.config.experimental.
get_memory_info`, reset before the part; None where the device does not
report it, as on CPU). Data: the generated demo data (`--examples`),
because the shared data sets do not travel to a lent machine.

`--dry-run` runs every part at tiny sizes on whatever device is here (a
CPU-only machine: under a minute) to check the plumbing; its JSON is
`results/device_dry_run.json` and never replaces a real device's
`results/device_<gpu|cpu>.json`. See benchmarks/README.md for running it
on a lent GPU.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import mmkeras  # noqa: E402
from benchmarks import common  # noqa: E402
from benchmarks.datasets import generated_spec  # noqa: E402
from mmkeras.fusion.registry import FUSIONS  # noqa: E402
from mmkeras.jit import accelerators, resolve_jit_compile  # noqa: E402
from mmkeras.testing import tiny_spec_dict  # noqa: E402

PARTS = ("xla", "throughput", "efficiency", "precision", "encoders")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# name: (full, dry run)
SIZES = {"examples": (4000, 64), "steps": (30, 2), "repeats": (3, 1), "epochs": (3, 2), "batch": (256, 16)}


def device_name():
    """"GPU", "TPU" or "CPU": the accelerator the step runs on here.

    Example:

    >>> device_name()
    'CPU'
    """
    found = accelerators()
    return found[0] if found else "CPU"


def reset_peak():
    """Resets the accelerator's peak-memory counter (no-op where unsupported)."""
    try:
        tf.config.experimental.reset_memory_stats(f"{device_name()}:0")
    except (ValueError, tf.errors.OpError):
        pass


def peak_mib():
    """The accelerator's peak memory since the last `reset_peak`, MiB; None where the device does not report it.

    Example:

    >>> peak_mib() is None  # CPU
    True
    """
    if device_name() == "CPU":
        return None
    try:
        return tf.config.experimental.get_memory_info(f"{device_name()}:0")["peak"] / 2**20
    except (ValueError, tf.errors.OpError):
        return None


def base_spec(examples, dry_run, work):
    """The spec dict every part starts from: the demo data, `jit_compile` left out (the default, auto).

    A dry run keeps the two cheapest inputs (`reading`, `colour`; the
    `encoders` part adds its own), so that every model compiles in seconds.
    """
    spec = generated_spec(examples, work, image_audio_only=False)
    if dry_run:
        spec = tiny_spec_dict(os.path.join(work, "manifest.csv"))
        spec["inputs"] = {k: spec["inputs"][k] for k in ("reading", "colour")}
    spec["training"].pop("jit_compile", None)
    return spec


def _with(spec, **training):
    return {**spec, "training": {**spec["training"], **training}}


def part_xla(spec, sizes, dry_run):
    from benchmarks.xla import step_time

    rows = []
    fusions = ["concat"] if dry_run else FUSIONS.names()
    for fusion in fusions:
        s = {**spec, "fusion": {"type": fusion, "hidden_units": [16 if dry_run else 64]}}
        on, really_on = step_time(s, True, sizes["steps"], sizes["repeats"])
        off, _ = step_time(s, False, sizes["steps"], sizes["repeats"])
        rows.append({"fusion": fusion, "xla_ms": on * 1e3, "no_xla_ms": off * 1e3, "speedup": off / on,
                     "xla_really_on": really_on})
    choice = resolve_jit_compile(mmkeras.load_spec(spec).training)
    return {"rows": rows, "default": choice.to_dict()}


def _memory_fed(spec, batch):
    from benchmarks.pipeline import in_memory_dataset

    spec = mmkeras.load_spec(_with(spec, batch_size=batch))
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    memory = in_memory_dataset(mmkeras.make_dataset(spec, splits["train"], pre, training=True), batch)
    return spec, splits, pre, model, memory


def part_throughput(spec, sizes, dry_run):
    from benchmarks.pipeline import _epoch_timer

    batch = sizes["batch"]
    spec, splits, pre, model, memory = _memory_fed(spec, batch)
    n = len(splits["train"]) // batch * batch
    files = mmkeras.make_dataset(spec, splits["train"], pre, training=True, cache="memory")
    model.fit(memory.take(2), epochs=1, verbose=0)  # compile outside the timings
    rates = {}
    for name, ds in (("memory", memory), ("files", files)):
        timer = _epoch_timer()
        model.fit(ds, epochs=sizes["epochs"], verbose=0, callbacks=[timer])
        rates[name] = n / statistics.median(timer.times[1:] or timer.times)
    return {"batch": batch, "xla": bool(model.jit_compile), "memory_fed_ex_per_s": rates["memory"],
            "files_fed_ex_per_s": rates["files"], "train_examples": n}


def part_efficiency(spec, sizes, dry_run):
    from benchmarks.pipeline import pipeline_efficiency

    return pipeline_efficiency(spec, sizes["repeats"], epochs=max(sizes["epochs"], 2))


def part_precision(spec, sizes, dry_run):
    from benchmarks.precision import train_one
    from mmkeras.tasks.outputs.metrics import evaluate_model

    loaded = mmkeras.load_spec(spec)
    splits = mmkeras.load_splits(loaded)
    pre = mmkeras.Preprocessor(loaded).adapt(splits["train"])
    rows = []
    precisions = PRECISIONS[:1] + PRECISIONS[2:] if dry_run and device_name() == "CPU" else PRECISIONS
    try:
        for precision in precisions:  # float16 on a CPU is emulated and slow: the dry run leaves it out there
            model, _, times, steps = train_one(loaded, pre, splits, precision, sizes["epochs"])
            test = evaluate_model(model, pre, splits["test"])
            out = next(iter(loaded.outputs))
            rows.append({"precision": precision, "test_accuracy": test[out]["accuracy"],
                         "step_ms": statistics.median(times[1:] or times) / max(steps, 1) * 1e3,
                         "xla": bool(model.jit_compile)})
    finally:
        keras.config.set_dtype_policy("float32")
    for r in rows:
        r["step_time_vs_float32"] = r["step_ms"] / rows[0]["step_ms"]
        r["delta_vs_float32"] = r["test_accuracy"] - rows[0]["test_accuracy"]
    return {"rows": rows}


def part_encoders(spec, sizes, dry_run):
    from benchmarks.xla import step_time

    rows = []
    full = tiny_spec_dict(spec["data"]["path"])["inputs"] if dry_run else spec["inputs"]
    for name, encoder in (("sound", {"type": "crnn", "filters": [8], "gru_units": 8} if dry_run else {"type": "crnn"}),
                          ("caption", {"type": "bilstm", "units": 8} if dry_run else {"type": "bilstm"})):
        s = {**spec, "inputs": {**spec["inputs"], name: {**full[name], "encoder": encoder}}}
        ms, really_on = step_time(s, True, sizes["steps"], sizes["repeats"])
        rows.append({"input": name, "encoder": encoder["type"], "xla_step_ms": ms * 1e3, "xla_really_on": really_on})
    return {"rows": rows}


PART_FUNCTIONS = {"xla": part_xla, "throughput": part_throughput, "efficiency": part_efficiency,
                  "precision": part_precision, "encoders": part_encoders}


def run_parts(parts, spec, sizes, *, dry_run=False, budget_s=450.0, started=None):
    """Runs the parts in order, each with its peak memory and seconds; a part past `budget_s` is skipped.

    Example:

    >>> out = run_parts(["xla"], spec={}, sizes={}, budget_s=-1)
    >>> out["xla"]["status"]
    'skipped: over the time budget'
    """
    started = time.perf_counter() if started is None else started
    results = {}
    for part in parts:
        elapsed = time.perf_counter() - started
        if elapsed > budget_s:
            results[part] = {"status": "skipped: over the time budget", "seconds": 0.0}
            continue
        reset_peak()
        start = time.perf_counter()
        try:
            result, status = PART_FUNCTIONS[part](spec, sizes, dry_run), "ok"
        except Exception as e:  # one failing part must not hide the others
            result, status = {"error": f"{type(e).__name__}: {e}"}, "failed"
        results[part] = {"status": status, "seconds": round(time.perf_counter() - start, 1),
                         "peak_memory_mib": peak_mib(), **result}
        print(f"  {part}: {status} ({results[part]['seconds']} s)", flush=True)
    return results


def main(argv=None):
    """Runs the device benchmark (or its dry run) and writes results/device_*.json; returns its results.

    Example:

    >>> main(["--dry-run", "--parts", "xla"])["device"]
    'CPU'
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks.device", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes: checks the plumbing (CPU: < 1 minute)")
    parser.add_argument("--parts", nargs="*", default=list(PARTS), choices=PARTS)
    parser.add_argument("--budget-s", type=float, default=None,
                        help="start no part after this many seconds (default 420; dry run 50)")
    parser.add_argument("--work", default=None, help="folder for the generated data (default: a new temporary one)")
    for name, (full, _) in SIZES.items():
        parser.add_argument(f"--{name}", type=int, default=None, help=f"default {full} (dry run: {SIZES[name][1]})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sizes = {k: getattr(args, k) or v[1 if args.dry_run else 0] for k, v in SIZES.items()}
    budget = args.budget_s if args.budget_s is not None else (50.0 if args.dry_run else 420.0)
    work = args.work or tempfile.mkdtemp(prefix="mmkeras-device-")
    spec = base_spec(sizes["examples"], args.dry_run, work)
    print(f"device benchmark on {device_name()} ({'dry run, ' if args.dry_run else ''}sizes {sizes})", flush=True)
    results = run_parts(args.parts, spec, sizes, dry_run=args.dry_run, budget_s=budget, started=started)
    payload = {"device": device_name(), "dry_run": args.dry_run, "sizes": sizes, "budget_s": budget,
               "seconds": round(time.perf_counter() - started, 1), "results": results}
    name = "device_dry_run" if args.dry_run else f"device_{device_name().lower()}"
    path = common.write_result(name, {"args": vars(args), **payload})
    print(f"device benchmark: {payload['seconds']} s; written to {path}")
    return payload


if __name__ == "__main__":
    main()
