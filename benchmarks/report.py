"""Writes benchmarks/RESULTS.md from the JSON files in benchmarks/results/."""

import json
import os

from benchmarks.common import RESULTS_DIR

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name):
    path = os.path.join(RESULTS_DIR, f"{name}.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _table(rows, columns):
    if not rows:
        return "(not run)\n"
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _verdict(ok):
    return "met" if ok else "**not met**"


def write_report(path=os.path.join(HERE, "RESULTS.md")):
    """Renders every available result with its goal; returns the path written."""
    out = ["# Benchmark results\n",
           "Written by `python -m benchmarks` (see each module for its method). Ratios are measured "
           "within one run; medians over repeats. Raw numbers: `benchmarks/results/*.json`.\n"]
    machine = None
    pipeline = _load("pipeline")
    if pipeline:
        machine = pipeline["machine"]
        res = pipeline["results"]
        rows = [{"data": k, **v["efficiency"]} for k, v in res.items()]
        ok = all(r["later_epochs"] >= 0.95 for r in rows)
        out += [f"\n## 1. Pipeline efficiency (goal >= 0.95 from epoch 2: {_verdict(ok)})\n",
                _table(rows, ["data", "first_epoch", "later_epochs", "files_ex_per_s_later", "memory_ex_per_s"])]
        rows = [{"data": k, **v["usual_way"]} for k, v in res.items()]
        ok = all(r["speedup"] >= 5 for r in rows)
        out += [f"\n## 2. Against the usual per-file Python loop (goal >= 5x: {_verdict(ok)})\n",
                _table(rows, ["data", "examples", "usual_ex_per_s", "mmkeras_ex_per_s", "speedup",
                              "usual_end_to_end_s", "mmkeras_end_to_end_s", "epochs"])]
    audio = _load("audio_frontend")
    if audio:
        machine = machine or audio["machine"]
        rows = audio.get("results") or audio.get("rows") or []
        rows = rows if isinstance(rows, list) else [rows]
        columns = sorted({k for r in rows for k in r}) if rows else []
        ok = all(r.get("speedup", 0) >= 10 for r in rows) if rows and "speedup" in rows[0] else None
        out += [f"\n## 3. Audio frontend vs librosa (goal >= 10x: {_verdict(ok) if ok is not None else 'see table'})\n",
                _table(rows, columns)]
    for device in ("cpu", "gpu"):
        xla = _load(f"xla_{device}")
        if xla:
            machine = machine or xla["machine"]
            ok = all(r["speedup"] >= 1.0 for r in xla["results"])
            out += [f"\n## 4. XLA train step on vs off, {device.upper()} (goal: never slower: {_verdict(ok)})\n",
                    _table(xla["results"], ["fusion", "xla_ms", "no_xla_ms", "speedup", "xla_really_on"])]
    scaling = _load("scaling")
    if scaling:
        rows = scaling["results"]
        ok_t = all(r["time_vs_proportional"] <= 1.1 for r in rows)
        ok_m = all(r["rss_vs_previous"] <= 1.1 for r in rows)
        out += [f"\n## 5. Scaling (time <= 1.1x proportional: {_verdict(ok_t)}; "
                f"peak RSS +<= 10%: {_verdict(ok_m)})\n",
                _table(rows, ["size", "train_rows", "epoch_s", "time_vs_proportional", "peak_rss_mib",
                              "rss_vs_previous"])]
    serving = _load("serving")
    if serving:
        out += ["\n## 6. Serving the SavedModel on raw file bytes\n",
                _table([serving["results"]], ["p50_ms_batch1", "p99_ms_batch1", "examples_per_s_batch64"])]
    if machine:
        out += ["\n## Machine\n", "\n".join(f"- {k}: {v}" for k, v in machine.items()) + "\n"]
    notes = os.path.join(HERE, "NOTES.md")
    if os.path.isfile(notes):
        out += ["\n## Notes\n", open(notes, encoding="utf-8").read()]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    return path
