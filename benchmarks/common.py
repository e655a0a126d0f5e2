"""Shared benchmark helpers: timing with repeats, tables, JSON results, machine facts."""

import json
import os
import platform
import statistics
import time

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def machine():
    """A short description of where the numbers were taken."""
    import tensorflow as tf

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }
    try:
        import keras

        info["keras"] = keras.__version__
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
        with open("/proc/cpuinfo") as f:
            names = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        pass
    return info


def load_snapshot(interval=1.0, top=5):
    """Load average and the busiest processes right now (from /proc), to judge how quiet the machine was.

    Samples every process's CPU time twice, `interval` seconds apart; the
    benchmark process itself is listed too (as "self").

    Example:

    >>> snap = load_snapshot(0.5)
    >>> sorted(snap)
    ['load_average', 'time', 'top_processes']
    """
    def cpu_times():
        times = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
                    stat = f.read()
                name = stat[stat.index("(") + 1: stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2:].split()
                times[int(pid)] = (name, int(fields[11]) + int(fields[12]))  # utime + stime, clock ticks
            except (OSError, ValueError, IndexError):
                continue
        return times

    snap = {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "load_average": None, "top_processes": []}
    try:
        snap["load_average"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    if not os.path.isdir("/proc"):
        return snap
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    before = cpu_times()
    time.sleep(interval)
    after = cpu_times()
    busy = []
    for pid, (name, t) in after.items():
        if pid in before and before[pid][0] == name:
            share = (t - before[pid][1]) / ticks / interval * 100
            if share > 0:
                busy.append({"pid": pid, "name": "self" if pid == os.getpid() else name,
                             "cpu_percent": round(share, 1)})
    snap["top_processes"] = sorted(busy, key=lambda r: -r["cpu_percent"])[:top]
    return snap


def median_time(fn, repeats=3, warmup=0):
    """Median wall time of `fn()` over `repeats` calls (after `warmup` calls), and all times."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def peak_rss_mib():
    """Peak resident memory of this process so far (Linux VmHWM), MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(title, rows, columns):
    """Prints rows (dicts) as an aligned text table."""
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print(f"\n{title}")
    print("  " + "  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  " + "  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in columns))


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return "" if v is None else str(v)


def write_result(name, payload):
    """Writes benchmarks/results/<name>.json with the machine description; returns the path."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, f"{name}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"benchmark": name, "written": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(),
                   **payload}, f, indent=1)
    return path
