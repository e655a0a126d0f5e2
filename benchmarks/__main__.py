"""Run the whole benchmark suite and write benchmarks/RESULTS.md.

    python -m benchmarks [--quick]

Figures (see each module's docstring): 1-2 `pipeline`, 3 `audio_frontend`,
4 `xla`, 5 `scaling`, 6 `serving`. Every figure is a ratio measured in one
run (median of >= 3 repeats) on this machine; the JSON files in
benchmarks/results/ hold the raw numbers and the machine description.
"""

import argparse
import importlib
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import common  # noqa: E402

SUITE = [
    ("pipeline", ["--examples", "2000"], ["--examples", "600", "--repeats", "1", "--epochs", "2", "--data", "demo"]),
    ("audio_frontend", [], ["--repeats", "1"]),
    ("xla", [], ["--examples", "300", "--steps", "10", "--repeats", "1", "--fusions", "concat"]),
    ("scaling", [], ["--sizes", "500", "1000"]),
    ("serving", [], ["--examples", "300", "--calls", "50"]),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the suite runs, numbers mean little")
    parser.add_argument("--only", nargs="*", help="run only these modules")
    args = parser.parse_args(argv)
    timings = {}
    for name, full, quick in SUITE:
        if args.only and name not in args.only:
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        start = time.perf_counter()
        module.main(quick if args.quick else full)
        timings[name] = time.perf_counter() - start
    print("\nseconds per benchmark: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    if not args.quick and not args.only:
        from benchmarks.report import write_report

        print(f"summary written to {write_report()}")


if __name__ == "__main__":
    main()
