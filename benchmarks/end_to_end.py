"""End to end: `mmkeras train ../shared/specs/av_digits.yaml` with `jit_compile` left to its default, timed whole.

    python -m benchmarks.end_to_end [--runs 3] [--epochs N] [--spec PATH] [--work DIR]

The shared spec is copied into a temporary folder without its
`training.jit_compile` key (so the default, `auto`, decides), with
`data.path` and `data.root` made absolute. Each run is a fresh process,
`mmkeras train COPY --out RUN_DIR` (train, evaluate, importance, export),
under `/usr/bin/time -v` (whole-process wall time, peak RSS, user and
system CPU); without that program the child's `resource.getrusage`
stands in (peak RSS, CPU; wall from this process). The figure is the
median wall time of `--runs` runs and the largest peak RSS; goal: <= 39 s
and <= 1 GiB (half of Ludwig 0.11's 78 s and 1.9 GiB on a quiet 2-core
machine).

Peak RSS per phase comes from sampling the run's VmRSS every 0.2 s.
Phases come from the time each line of the run's log reached this process
(`PYTHONUNBUFFERED=1`): import (a separate `python -c "import mmkeras.cli"`
per run), reading the table (process start to the data line, less the
import), adapt + build (to the `training ...` line), first epoch, later
epochs, save + evaluate (to the metrics), importance (to the importance
table), export (to `run written to`) and exit.
"""

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import yaml

from benchmarks import common
from benchmarks.datasets import SHARED_AV_DIGITS

GOAL_S = 39.0
GOAL_RSS_MIB = 1024.0
TIME_BIN = "/usr/bin/time"
_EPOCH = re.compile(r"^\s*epoch (\d+) \(([\d.]+) s\)")
_DATA = re.compile(r"^\S+: .*(rows|examples|pairs)\s*$")


def spec_without_jit(shared_spec, folder):
    """Writes a copy of `shared_spec` without `training.jit_compile`, its data paths absolute; returns its path.

    Example:

    >>> path = spec_without_jit(SHARED_AV_DIGITS, tmp_dir)
    >>> "jit_compile" in open(path).read()
    False
    """
    with open(shared_spec, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    base = os.path.dirname(os.path.abspath(shared_spec))
    spec.get("training", {}).pop("jit_compile", None)
    data = spec["data"]
    data["path"] = os.path.normpath(os.path.join(base, data["path"]))
    data["root"] = os.path.normpath(os.path.join(base, data.get("root") or os.path.dirname(data["path"])))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, os.path.basename(shared_spec))
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(spec, f, sort_keys=False)
    return path


def parse_time_v(text):
    """{"wall_s", "user_s", "system_s", "peak_rss_mib"} from `/usr/bin/time -v`'s report.

    Example:

    >>> parse_time_v("User time (seconds): 1.5\\nMaximum resident set size (kbytes): 2048\\n"
    ...              "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.50\\nSystem time (seconds): 0.5")
    {'user_s': 1.5, 'system_s': 0.5, 'peak_rss_mib': 2.0, 'wall_s': 62.5}
    """
    out = {}
    for key, pattern in (("user_s", r"User time \(seconds\): ([\d.]+)"),
                         ("system_s", r"System time \(seconds\): ([\d.]+)"),
                         ("peak_rss_mib", r"Maximum resident set size \(kbytes\): (\d+)")):
        m = re.search(pattern, text)
        if m:
            out[key] = float(m.group(1)) / (1024 if key == "peak_rss_mib" else 1)
    m = re.search(r"Elapsed \(wall clock\) time.*?\):\s*(?:(\d+):)?(\d+):([\d.]+)", text)
    if m:
        out["wall_s"] = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return out


def phase_bounds(lines, import_s):
    """[(phase, start s, end s), ...] from `[(seconds since start, line), ...]` of one run's log and the import time.

    Example:

    >>> bounds = phase_bounds([(3.0, "av: train 10, validation 2, test 3 rows"),
    ...     (5.0, "training 9 parameters for 2 epochs (XLA off)"), (7.0, "  epoch 1 (1.9 s): loss=1"),
    ...     (8.0, "  epoch 2 (1.0 s): loss=1"), (9.0, "test  digit  a=1"), (9.5, "modality importance (x)"),
    ...     (9.6, "  image  0.1"), (11.0, "run written to r"), (11.2, "headline metrics"), (11.3, "  digit  1"),
    ...     (12.0, "report: r/report.html"), (12.5, "")], 2.0)
    >>> [(name, round(end - start, 2)) for name, start, end in bounds][-3:]
    [('export', 1.4), ('report', 1.0), ('exit', 0.5)]
    """
    def first(pred, after=0.0):
        return next((t for t, line in lines if t >= after and pred(line)), None)

    end = lines[-1][0] if lines else 0.0
    data = first(lambda s: bool(_DATA.match(s))) or 0.0
    training = first(lambda s: s.startswith("training ")) or data
    epochs = [t for t, s in lines if _EPOCH.match(s)] or [training]
    importance = first(lambda s: s.startswith("modality importance"), epochs[-1])
    metrics_end = max((t for t, s in lines if epochs[-1] < t < (importance or end) and s.strip()
                       and not _EPOCH.match(s)), default=epochs[-1])
    written = first(lambda s: s.startswith("run written to"), epochs[-1]) or end
    importance_end = max((t for t, s in lines if importance is not None and importance <= t < written
                          and s.startswith("  ")), default=metrics_end)
    reported = first(lambda s: s.startswith("report: "), written) or written  # plots, report.html, headline table
    marks = [("import", 0.0), ("read table", min(import_s, data)), ("adapt + build", data),
             ("first epoch", training), ("later epochs", epochs[0]), ("save + evaluate", epochs[-1]),
             ("importance", metrics_end), ("export", importance_end), ("report", written), ("exit", reported)]
    return [(name, start, marks[i + 1][1] if i + 1 < len(marks) else end) for i, (name, start) in enumerate(marks)]


def phases(lines, import_s):
    """{phase: seconds} (see `phase_bounds`).

    Example:

    >>> phases([(1.0, "x: train 1, test 1 rows"), (2.0, "run written to r")], 0.5)["read table"]
    0.5
    """
    return {name: round(end - start, 3) for name, start, end in phase_bounds(lines, import_s)}


def _child_pid(pid):
    """The python process under `/usr/bin/time` (its only child), or `pid` itself."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as f:
            children = f.read().split()
        return int(children[0]) if children else pid
    except OSError:
        return pid


def _rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration, ValueError):
        return None


def sample_rss(proc, start, samples, interval=0.2):
    """Appends (seconds since `start`, RSS MiB of the run) to `samples` until `proc` exits (a thread's target)."""
    while proc.poll() is None:
        rss = _rss_mib(_child_pid(proc.pid))
        if rss is not None:
            samples.append((time.perf_counter() - start, rss))
        time.sleep(interval)


def import_seconds():
    """Wall seconds of `python -c "import mmkeras.cli"` in a fresh process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mmkeras.cli"], check=True, env=_env())
    return time.perf_counter() - start


def _env():
    return {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}


def run_once(spec_path, run_dir, epochs=None):
    """One `mmkeras train` in a fresh process: wall, CPU, peak RSS, the log lines with their times, phases."""
    report = run_dir + ".time.txt"
    command = [sys.executable, "-m", "mmkeras", "train", spec_path, "--out", run_dir]
    if epochs:
        command += ["--epochs", str(epochs)]
    timed = os.path.exists(TIME_BIN)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    import_s = import_seconds()
    start = time.perf_counter()
    proc = subprocess.Popen(([TIME_BIN, "-v", "-o", report] if timed else []) + command, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=_env())
    samples = []
    sampler = threading.Thread(target=sample_rss, args=(proc, start, samples), daemon=True)
    sampler.start()
    lines = [(time.perf_counter() - start, line.rstrip("\n")) for line in proc.stdout]
    code = proc.wait()
    sampler.join()
    wall = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"mmkeras train exited with {code}:\n" + "\n".join(s for _, s in lines[-20:]))
    if timed:
        with open(report, encoding="utf-8") as f:
            measured = {**parse_time_v(f.read()), "measured_by": "/usr/bin/time -v"}
    else:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        measured = {"wall_s": wall, "user_s": after.ru_utime - before.ru_utime,
                    "system_s": after.ru_stime - before.ru_stime, "peak_rss_mib": after.ru_maxrss / 1024,
                    "measured_by": "resource.getrusage(RUSAGE_CHILDREN) (largest child so far)"}
    lines.append((wall, ""))
    xla = next((s[s.index("(") + 1:].rstrip(")") for _, s in lines if s.startswith("training ") and "(" in s), None)
    bounds = phase_bounds(lines, import_s)
    rss = {name: max((r for t, r in samples if a <= t <= b), default=None) for name, a, b in bounds}
    return {**measured, "phases_s": phases(lines, import_s), "phase_peak_rss_mib": rss, "xla": xla,
            "log": [f"{t:7.2f}s  {s}" for t, s in lines if s]}


def main(argv=None):
    """Times `mmkeras train` on the shared av_digits spec with `jit_compile` left out; writes results/end_to_end.json.

    Example:

    >>> main(["--runs", "1", "--epochs", "1"])["goal_met"] in (True, False)
    True
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="override the spec's epochs (a quick check)")
    parser.add_argument("--spec", default=SHARED_AV_DIGITS)
    parser.add_argument("--work", default=None, help="folder for the spec copy and the run directories")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.spec):
        print(f"{args.spec} is absent: skipping the end-to-end run")
        return {"skipped": f"{args.spec} is absent", "goal_met": None}
    work = args.work or tempfile.mkdtemp(prefix="mmkeras-e2e-")
    spec_path = spec_without_jit(args.spec, work)
    started = common.load_snapshot()
    runs = []
    for i in range(args.runs):
        run_dir = os.path.join(work, f"run{i}")
        shutil.rmtree(run_dir, ignore_errors=True)
        runs.append(run_once(spec_path, run_dir, args.epochs))
        r = runs[-1]
        print(f"  run {i + 1}: {r['wall_s']:.1f} s, peak RSS {r['peak_rss_mib']:.0f} MiB, {r['xla']}; "
              + ", ".join(f"{k} {v:.1f}" for k, v in r["phases_s"].items()), flush=True)
    median = statistics.median(r["wall_s"] for r in runs)
    peak = max(r["peak_rss_mib"] for r in runs)
    middle = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    result = {"spec": args.spec, "epochs": args.epochs, "runs": runs, "median_wall_s": median,
              "peak_rss_mib": peak, "phases_s_of_median_run": middle["phases_s"], "xla": middle["xla"],
              "goal_wall_s": GOAL_S, "goal_rss_mib": GOAL_RSS_MIB,
              "goal_met": median <= GOAL_S and peak <= GOAL_RSS_MIB, "started": started,
              "finished": common.load_snapshot()}
    common.print_table(f"End to end: mmkeras train {os.path.basename(args.spec)}, jit_compile left to its default "
                       f"(goal <= {GOAL_S:g} s, <= {GOAL_RSS_MIB:g} MiB)",
                       [{"median_wall_s": median, "peak_rss_mib": peak, "runs": len(runs), "xla": middle["xla"],
                         **middle["phases_s"]}],
                       ["median_wall_s", "peak_rss_mib", "runs", "xla", *middle["phases_s"]])
    path = common.write_result("end_to_end" if not args.epochs else "end_to_end_quick", {"args": vars(args), **result})
    print(f"\nwritten to {path}")
    return result


if __name__ == "__main__":
    main()
