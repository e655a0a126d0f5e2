"""Run the whole benchmark suite and write benchmarks/RESULTS.md.

    python -m benchmarks [--quick] [--all] [--only NAME ...] [--skip NAME ...] [--no-profile]
    python -m benchmarks --device [--dry-run]

Figures (see each module's docstring): 1-2 `pipeline` (2: CPU-seconds per
example; `cpu_cost` times each per-example stage), 3 `audio_frontend` (and
`stft_precision`: per core, float32 STFT parity), 4 `xla` (the default
`jit_compile` against XLA on and off), 5 `scaling`, 6 `serving`, then
`precision` (mixed precision accuracy on av_digits) and `shards` (reading
TFRecord shards). With `--all` (or `--only NAME`) also the longer tables of
trained models: `modality_dropout`, `retrieval` (OpenMoji picture <-> name),
`fusion_matrix` (every fusion type trained, reloaded and served with an input
missing), `end_to_end` (`mmkeras train` on the shared av_digits spec, 3
fresh processes) and `distribute` (1 vs 2 workers, the tf.data service, a
ring all-reduce projection for 1-64 replicas). `--device` runs only the device benchmark
(`benchmarks.device`: XLA, throughput, pipeline efficiency, mixed precision and
the recurrent encoders on a GPU/TPU, < 8 minutes); `--device --dry-run` runs
it at tiny sizes on any machine (CPU: under a minute); see benchmarks/README.md. After the figures, `profile` traces what bounds every goal that
was not met (a TensorFlow profiler trace, parsed). Every figure is a ratio
measured in one run (median of >= 3 repeats) on this machine; the JSON files
in benchmarks/results/ hold the raw numbers and the machine description, and
RESULTS.md is rendered from them with the load of the machine at the start
and the end of the run.

`--quick` uses tiny sizes: it checks that the suite runs, the numbers mean
little (RESULTS.md then says so in its first lines).
"""

import argparse
import importlib
import json
import os
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import common  # noqa: E402

# name, arguments at default sizes, arguments with --quick. A module may
# instead define FULL_ARGS / QUICK_ARGS (lists) itself; those win.
SUITE = [
    ("pipeline", ["--examples", "2000"], ["--examples", "600", "--repeats", "1", "--epochs", "2", "--data", "demo"]),
    ("audio_frontend", [], ["--repeats", "1"]),
    ("xla", [], ["--examples", "300", "--steps", "10", "--repeats", "1", "--fusions", "concat"]),
    ("scaling", [], ["--sizes", "500", "1000"]),
    ("serving", [], ["--examples", "300", "--calls", "50"]),
    ("precision", [], ["--quick"]),
    ("modality_dropout", [], ["--quick"]),
    ("retrieval", [], ["--quick"]),
    ("shards", [], ["--quick"]),
    ("fusion_matrix", [], ["--quick"]),
    ("cpu_cost", [], ["--examples", "300", "--repeats", "1", "--data", "demo"]),
    ("stft_precision", [], ["--clips", "16", "--repeats", "1", "--settings", "demo sound (8 kHz, 0.5 s)"]),
    ("end_to_end", [], ["--runs", "1", "--epochs", "1"]),
    ("distribute", [], ["--quick"]),
    ("kerashub", [], ["--texts", "500", "--examples", "128", "--repeats", "1"]),
    ("generalisation", [], ["--quick"]),
]
# Tables of issue 4 and the end-to-end run (several minutes each): run with --all or --only NAME.
EXTRA = ("modality_dropout", "retrieval", "fusion_matrix", "end_to_end", "distribute", "generalisation")
PROFILE = "profile"


def _module(name):
    """The benchmark module, or None when it is not in this checkout."""
    try:
        return importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"benchmarks.{name}":
            return None
        raise


def run_one(name, argv):
    """Runs one benchmark module's `main(argv)`; returns {"status": ok|skipped|failed, "seconds", "error"}.

    Example:

    >>> run_one("audio_frontend", ["--clips", "8", "--repeats", "1"])["status"]
    'ok'
    """
    start = time.perf_counter()
    status, error = "ok", None
    try:
        module = _module(name)
        if module is None:
            status, error = "skipped", f"benchmarks/{name}.py is not in this checkout"
        else:
            module.main(argv)
    except SystemExit as e:  # argparse errors, or a module that exits on purpose
        if e.code not in (0, None):
            status, error = "failed", f"exited with {e.code}"
    except Exception as e:  # one failing figure must not hide the others
        traceback.print_exc()
        status, error = "failed", f"{type(e).__name__}: {e}"
    return {"status": status, "seconds": round(time.perf_counter() - start, 1), "error": error}


def _device(args, report):
    """`--device [--dry-run]`: the device benchmark alone; a dry run's summary never replaces RESULTS.md."""
    result = run_one("device", ["--dry-run"] if args.dry_run else [])
    if result["error"]:
        print(f"device: {result['status']}: {result['error']}", file=sys.stderr)
    quick = os.path.join(common.RESULTS_DIR, "RESULTS-quick.md")
    path = args.report or (quick if args.dry_run else report.RESULTS_MD)
    print(f"summary written to {report.write_report(path, common.RESULTS_DIR)}")
    return 0 if result["status"] == "ok" else 1


def main(argv=None):
    """Runs the suite (or `--only` some of it) and renders RESULTS.md.

    Example:

    >>> main(["--only", "audio_frontend", "--quick"])
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [n for n, _, _ in SUITE] + [PROFILE]
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the suite runs, numbers mean little")
    parser.add_argument("--all", action="store_true",
                        help=f"also run the longer tables: {', '.join(EXTRA)} (about 25 more minutes)")
    parser.add_argument("--only", nargs="*", choices=names, metavar="NAME", help=f"run only these: {', '.join(names)}")
    parser.add_argument("--skip", nargs="*", default=[], choices=names, metavar="NAME", help="leave these out")
    parser.add_argument("--no-profile", action="store_true", help="do not profile the goals that were not met")
    parser.add_argument("--report", default=None, help="where to write the summary (default benchmarks/RESULTS.md)")
    parser.add_argument("--device", action="store_true", help="run only the device benchmark (GPU/TPU, < 8 minutes)")
    parser.add_argument("--dry-run", action="store_true", help="with --device: tiny sizes on any machine (< 1 minute)")
    args = parser.parse_args(argv)
    from benchmarks import report

    if args.device:
        return _device(args, report)

    command = "python -m benchmarks" + ("" if argv is None and len(sys.argv) <= 1 else
                                        " " + " ".join(sys.argv[1:] if argv is None else argv))
    run = {"command": command, "quick": args.quick, "started": common.load_snapshot(), "modules": {}}
    wanted = lambda n: ((n in args.only) if args.only else (args.all or n not in EXTRA)) and n not in args.skip  # noqa: E731
    for name, full, quick in SUITE:
        if not wanted(name):
            continue
        module_args = full
        mod = None
        try:
            mod = _module(name)
        except Exception:  # an import error is reported by run_one below
            pass
        if mod is not None:
            module_args = list(getattr(mod, "QUICK_ARGS" if args.quick else "FULL_ARGS", quick if args.quick else full))
        elif args.quick:
            module_args = quick
        print(f"\n=== {name} {' '.join(module_args)}", flush=True)
        run["modules"][name] = {"args": module_args, **run_one(name, module_args)}
        if run["modules"][name]["error"]:
            print(f"{name}: {run['modules'][name]['status']}: {run['modules'][name]['error']}", flush=True)
    # Profile the goals not met; every profiled figure when `--only profile` asks for it by name.
    profile_parts = [] if args.no_profile or not wanted(PROFILE) else report.unmet_profile_parts()
    if args.only and PROFILE in args.only and not args.no_profile:
        profile_parts = sorted(set(report.PROFILED.values()))
    if profile_parts:
        profile_args = ["--parts", *profile_parts] + (["--quick"] if args.quick else [])
        print(f"\n=== {PROFILE} {' '.join(profile_args)}", flush=True)
        run["modules"][PROFILE] = {"args": profile_args, **run_one(PROFILE, profile_args)}
    run["finished"] = common.load_snapshot()
    os.makedirs(common.RESULTS_DIR, exist_ok=True)
    run_file = os.path.join(common.RESULTS_DIR, "_run.json")
    if args.only and os.path.isfile(run_file):  # re-running some figures completes the earlier run's record
        with open(run_file, encoding="utf-8") as f:
            previous = json.load(f)
        if previous.get("quick") == args.quick:
            run = {**run, "command": f"{previous.get('command')}, then {command}",
                   "started": previous.get("started", run["started"]),
                   "modules": {**previous.get("modules", {}), **run["modules"]}}
    with open(run_file, "w", encoding="utf-8") as f:
        json.dump({"machine": common.machine(), **run}, f, indent=1)
    print("\nseconds per benchmark: " + ", ".join(f"{k} {v['seconds']:.0f}" for k, v in run["modules"].items()))
    # A quick run must not overwrite the committed RESULTS.md.
    default = os.path.join(common.RESULTS_DIR, "RESULTS-quick.md") if args.quick else report.RESULTS_MD
    print(f"summary written to {report.write_report(args.report or default)}")
    failed = [k for k, v in run["modules"].items() if v["status"] == "failed"]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
