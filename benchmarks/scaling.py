"""Figure 5: time per epoch grows linearly and peak memory stays flat as data grows.

    python -m benchmarks.scaling [--sizes 1000 4000 16000] [--full]

Each size runs in its own process (fresh peak-RSS counter), after the data
was generated (once, kept in --work) by another process: adapt, build, then
two epochs without a cache; the
second epoch's time and the process's peak RSS are reported. `--full` uses
1k, 10k and 100k examples (the issue's sizes; generating 100k examples writes
200k files and takes a few minutes).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def one(size, work):
    import mmkeras
    from benchmarks.common import peak_rss_mib
    from benchmarks.datasets import generated_spec

    spec = mmkeras.load_spec(generated_spec(size, os.path.join(work, str(size)), image_audio_only=False))
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    ds = mmkeras.make_dataset(spec, splits["train"], pre, training=True, cache="none")
    times = []
    for _ in range(2):
        start = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    print(json.dumps({"size": size, "train_rows": len(splits["train"]), "epoch_s": times[1],
                      "first_epoch_s": times[0], "peak_rss_mib": peak_rss_mib()}))


def main(argv=None):
    from benchmarks import common

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 4000, 16000])
    parser.add_argument("--full", action="store_true", help="sizes 1000 10000 100000")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "mmkeras-bench-scaling"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate:
        from benchmarks.datasets import generated_spec

        return generated_spec(args.generate, os.path.join(args.work, str(args.generate)), image_audio_only=False)
    if args.one:
        return one(args.one, args.work)
    sizes = [1000, 10000, 100000] if args.full else args.sizes
    rows = []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for size in sizes:
        # Generate in a process of its own, so the measured one's peak RSS is the pipeline's and the model's only.
        subprocess.run([sys.executable, "-m", "benchmarks.scaling", "--generate", str(size), "--work", args.work],
                       capture_output=True, text=True, check=True, env=env)
        out = subprocess.run([sys.executable, "-m", "benchmarks.scaling", "--one", str(size), "--work", args.work],
                             capture_output=True, text=True, check=True,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = rows[0]
    for r in rows:
        scale = r["train_rows"] / base["train_rows"]
        r["time_vs_proportional"] = r["epoch_s"] / (base["epoch_s"] * scale)
        r["rss_vs_previous"] = r["peak_rss_mib"] / rows[max(0, rows.index(r) - 1)]["peak_rss_mib"]
    common.print_table("5. Scaling (goal: time <= 1.1x proportional; peak RSS +<=10% per 10x)", rows,
                       ["size", "train_rows", "epoch_s", "time_vs_proportional", "peak_rss_mib", "rss_vs_previous"])
    path = common.write_result("scaling", {"args": {"sizes": sizes}, "results": rows})
    print(f"\nwritten to {path}")
    return rows


if __name__ == "__main__":
    main()
