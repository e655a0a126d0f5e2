"""RESULTS.md sections of issue 14: the device benchmark, `mmkeras train` end to end, the audio frontend per core.

Each function takes the JSON of one module (`benchmarks/results/<name>.json`)
and returns a figure for `benchmarks.report` ({"id", "title", "goal", "met",
"measured", "body"}); `issue_14_figures` collects those present.
"""

from benchmarks.tables import fmt, table

DEVICE_PART_COLUMNS = {
    "xla": ["fusion", "xla_ms", "no_xla_ms", "speedup", "xla_really_on"],
    "precision": ["precision", "test_accuracy", "delta_vs_float32", "step_ms", "step_time_vs_float32", "xla"],
    "encoders": ["input", "encoder", "xla_step_ms", "xla_really_on"],
}


def device_figure(payload):
    """The device benchmark's section: one table per part, its status, seconds and accelerator peak memory.

    Example:

    >>> device_figure({"device": "CPU", "dry_run": True, "seconds": 40.0, "results": {
    ...     "throughput": {"status": "ok", "seconds": 5.0, "batch": 16, "memory_fed_ex_per_s": 900.0}}})["title"]
    'Device benchmark (dry run on CPU: tiny sizes, plumbing only)'
    """
    parts = payload.get("results", {})
    dry = payload.get("dry_run")
    where = payload.get("device", "?")
    title = f"Device benchmark ({'dry run on ' + where + ': tiny sizes, plumbing only' if dry else where})"
    status = [{"part": name, "status": r.get("status"), "seconds": r.get("seconds"),
               "peak_memory_mib": r.get("peak_memory_mib"), "error": r.get("error")} for name, r in parts.items()]
    body = [table(status, ["part", "status", "seconds", "peak_memory_mib", "error"])]
    for name, r in parts.items():
        if r.get("status") != "ok":
            continue
        if r.get("rows"):
            body.append(f"\n`{name}`:\n" + table(r["rows"], DEVICE_PART_COLUMNS.get(name)))
        else:
            body.append(f"\n`{name}`:\n" + table([{k: v for k, v in r.items() if k not in ("status", "seconds")}]))
        if name == "xla" and r.get("default"):
            body.append(f"\nThe default there: XLA {'on' if r['default']['enabled'] else 'off'} "
                        f"({r['default']['reason']}).\n")
    body.append(f"\n{payload.get('seconds')} s in all (budget {payload.get('budget_s')} s for starting a part); "
                f"sizes {payload.get('sizes')}; command `python -m benchmarks --device"
                f"{' --dry-run' if dry else ''}`. How to run it on a lent GPU: benchmarks/README.md.\n")
    ok = sum(1 for r in parts.values() if r.get("status") == "ok")
    return {"id": "device", "title": title, "goal": "reported; < 8 minutes on a GPU (dry run: < 1 minute on CPU)",
            "met": None, "measured": f"{ok} of {len(parts)} parts ran in {payload.get('seconds')} s", "body": "".join(body)}


def end_to_end_figure(payload):
    """`mmkeras train` on the shared av_digits spec, jit_compile left to its default: wall, peak RSS, phases.

    Example:

    >>> end_to_end_figure({"median_wall_s": 30.0, "peak_rss_mib": 900.0, "goal_met": True, "xla": "XLA off",
    ...                    "runs": [{"wall_s": 30.0, "peak_rss_mib": 900.0, "phases_s": {"import": 3.0}}],
    ...                    "phases_s_of_median_run": {"import": 3.0}})["measured"]
    '30.0 s, 900 MiB peak RSS (median of 1 runs; XLA off)'
    """
    if payload.get("skipped"):
        return {"id": "end_to_end", "title": "`mmkeras train` av_digits end to end", "goal": "<= 39 s, <= 1 GiB",
                "met": None, "measured": payload["skipped"], "body": payload["skipped"] + "\n"}
    runs = [{"run": i + 1, "wall_s": r.get("wall_s"), "user_s": r.get("user_s"), "system_s": r.get("system_s"),
             "peak_rss_mib": r.get("peak_rss_mib"), "measured_by": r.get("measured_by")}
            for i, r in enumerate(payload.get("runs", []))]
    middle = payload.get("phases_s_of_median_run") or {}
    rss = next((r.get("phase_peak_rss_mib") for r in payload.get("runs", [])
                if r.get("phases_s") == middle), None) or {}
    phases = [{"phase": k, "seconds": v, "peak_rss_mib": rss.get(k)} for k, v in middle.items()]
    body = (table(runs, ["run", "wall_s", "user_s", "system_s", "peak_rss_mib", "measured_by"])
            + "\nPhases of the median run (from the times its log lines arrived; peak RSS sampled every 0.2 s):\n"
            + table(phases, ["phase", "seconds", "peak_rss_mib"])
            + f"\nXLA: {payload.get('xla')}. Command `python -m benchmarks.end_to_end` (the shared spec copied "
              "without `training.jit_compile`).\n")
    for when in ("started", "finished"):
        snap = payload.get(when) or {}
        if snap:
            body += (f"- {when} {snap.get('time')}: load average {snap.get('load_average')}; busiest: "
                     + (", ".join(f"{p['name']} {p['cpu_percent']:.0f}%" for p in snap.get("top_processes", []))
                        or "none") + "\n")
    return {"id": "end_to_end", "title": "`mmkeras train ../shared/specs/av_digits.yaml`, jit_compile left to its "
                                         "default (whole process)",
            "goal": f"<= {payload.get('goal_wall_s', 39):g} s and <= {payload.get('goal_rss_mib', 1024):g} MiB",
            "met": payload.get("goal_met"),
            "measured": f"{fmt(payload.get('median_wall_s'))} s, {payload.get('peak_rss_mib', 0):.0f} MiB peak RSS "
                        f"(median of {len(runs)} runs; {payload.get('xla')})"
                        + (f"; quick check, --epochs {payload['epochs']}" if payload.get("epochs") else ""),
            "body": body}


def stft_figure(payload):
    """The audio frontend per core (CPU ms per clip vs librosa) and the float32 STFT parity, with the verdict."""
    rows = payload.get("results", [])
    return {"id": "stft_precision", "title": "Audio frontend per core, and whether a float32 STFT keeps parity",
            "goal": f"parity <= {payload.get('parity_goal', 1e-5):g}", "met": None,
            "measured": payload.get("verdict", ""),
            "body": table(rows, ["setting", "feature", "way", "cpu_ms_per_clip", "wall_ms_per_clip",
                                 "cpu_speedup_vs_librosa", "parity_rel_err", "parity_ok"])
            + f"\n{payload.get('verdict', '')} Command `python -m benchmarks.stft_precision`.\n"}


def issue_14_figures(results):
    """The sections above for the results present (a real device's run before a dry run).

    Example:

    >>> issue_14_figures({})
    []
    """
    out = []
    device = next((results[k] for k in ("device_gpu", "device_tpu", "device_cpu", "device_dry_run") if k in results),
                  None)
    if device:
        out.append(device_figure(device))
    if results.get("end_to_end") or results.get("end_to_end_quick"):
        out.append(end_to_end_figure(results.get("end_to_end") or results["end_to_end_quick"]))
    if results.get("stft_precision"):
        out.append(stft_figure(results["stft_precision"]))
    return out
