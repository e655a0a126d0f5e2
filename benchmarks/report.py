"""Writes benchmarks/RESULTS.md from the JSON files in benchmarks/results/.

    python -m benchmarks.report [--results DIR] [--out FILE]

Every figure is shown against its goal (met / not met), the goals that are
not met are followed by what bounds them (results/profile.json, written by
`python -m benchmarks.profile`), and the machine section gives the CPU,
memory, versions, the load average at the start and the end of the run and
the busiest other processes, with the command that produced the numbers
(results/_run.json, written by `python -m benchmarks`).
"""

import argparse
import json
import os

from benchmarks.common import RESULTS_DIR
from benchmarks.report_device import issue_14_figures
from benchmarks.tables import fmt as _fmt, table as _table

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_MD = os.path.join(HERE, "RESULTS.md")
# Figures that `benchmarks.profile` can explain when their goal is not met.
PROFILED = {"1": "pipeline", "3": "audio_frontend", "4": "xla"}
EXTRA_MODULES = ("modality_dropout", "retrieval", "shards", "tfds_round_trip")


def load_results(results_dir=RESULTS_DIR):
    """{benchmark name: its JSON} for every file in `results_dir`.

    Example:

    >>> sorted(load_results())
    ['_run', 'audio_frontend', 'pipeline', ...]
    """
    out = {}
    if os.path.isdir(results_dir):
        for name in sorted(os.listdir(results_dir)):
            if name.endswith(".json"):
                with open(os.path.join(results_dir, name), encoding="utf-8") as f:
                    out[name[:-5]] = json.load(f)
    return out


def _verdict(ok):
    return "met" if ok else ("**not met**" if ok is not None else "reported")


def figures(results):
    """The figures found in `results`: [{"id", "title", "goal", "met" (bool or None), "measured", "body"}].

    Example:

    >>> [f["id"] for f in figures(load_results())]
    ['1', '2', '3', ...]
    """
    out = []
    pipeline = results.get("pipeline")
    if pipeline:
        res = pipeline["results"]
        rows = [{"data": k, **v["efficiency"]} for k, v in res.items()]
        out.append({"id": "1", "title": "Pipeline efficiency (files-fed / memory-fed examples/s)",
                    "goal": ">= 0.95 from epoch 2", "met": all(r["later_epochs"] >= 0.95 for r in rows),
                    "measured": ", ".join(f"{r['data']} {r['later_epochs']:.2f} (epoch 1: {r['first_epoch']:.2f})"
                                          for r in rows),
                    "body": _table(rows, ["data", "first_epoch", "later_epochs", "files_ex_per_s_later",
                                          "memory_ex_per_s"])})
        rows = [{"data": k, **v["usual_way"]} for k, v in res.items()]
        out.append(_figure_2(rows, results.get("cpu_cost")))
    audio = results.get("audio_frontend")
    if audio:
        rows = audio["results"]
        judged = [r for r in rows if r["feature"] in ("log_mel", "mfcc")] or rows
        out.append({"id": "3", "title": "Audio frontend in-graph vs librosa clip by clip (log-mel/MFCC judged)",
                    "goal": ">= 10x, parity <= 1e-5",
                    "met": all(r["speedup"] >= 10 and r.get("parity_ok", True) for r in judged),
                    "measured": ", ".join(f"{r['feature']} {r['speedup']:.1f}x" for r in judged),
                    "body": _table(rows, ["feature", "shape", "mmkeras_ms", "mmkeras_xla_ms", "librosa_ms", "speedup",
                                          "speedup_xla", "parity_rel_err", "parity_ok"])})
    for device in ("cpu", "gpu"):
        xla = results.get(f"xla_{device}")
        if xla:
            out.append(_figure_4(device, xla["results"]))
    scaling = results.get("scaling")
    if scaling:
        rows = scaling["results"]
        worst_t = max(r["time_vs_proportional"] for r in rows)
        worst_m = max(r["rss_vs_previous"] for r in rows)
        out.append({"id": "5", "title": "Scaling with data size", "goal": "epoch time <= 1.1x proportional, "
                    "peak RSS +<= 10%", "met": worst_t <= 1.1 and worst_m <= 1.1,
                    "measured": f"time {worst_t:.2f}x proportional, RSS x{worst_m:.2f} (worst; sizes "
                                f"{', '.join(str(r['size']) for r in rows)})",
                    "body": _table(rows, ["size", "train_rows", "epoch_s", "time_vs_proportional", "peak_rss_mib",
                                          "rss_vs_previous"])})
    serving = results.get("serving")
    if serving:
        r = serving["results"]
        out.append({"id": "6", "title": "Serving the SavedModel on raw file bytes", "goal": "reported", "met": None,
                    "measured": f"p50 {r['p50_ms_batch1']:.1f} ms, p99 {r['p99_ms_batch1']:.1f} ms at batch 1; "
                                f"{r['examples_per_s_batch64']:.0f} examples/s at batch 64",
                    "body": _table([r], ["p50_ms_batch1", "p99_ms_batch1", "examples_per_s_batch64"])})
    precision = (results.get("precision") or results.get("precision_quick"))
    if precision:
        rows = precision.get("results", [])
        judged = [r for r in rows if "within_tolerance" in r and r["precision"] != "float32"]
        tol = precision.get("tolerance", 0.02)
        served = all(r.get("served_accuracy") is not None for r in judged)
        out.append({"id": "7", "title": "Mixed precision on av_digits (same seed, test accuracy)",
                    "goal": f"|accuracy - float32's| <= {tol:g}, mixed export serves",
                    "met": (all(r["within_tolerance"] for r in judged) and served) if judged else None,
                    "measured": precision.get("skipped") or ", ".join(
                        [f"{r['precision']} {r['delta_vs_float32']:+.3f} ({r['step_time_vs_float32']:.2f}x step time)"
                         for r in judged] + [f"{r['precision']}: {r['note']}" for r in rows
                                             if "test_accuracy" not in r and r.get("note")]),
                    "body": _table(rows, ["precision", "epochs", "test_accuracy", "delta_vs_float32",
                                          "within_tolerance", "step_ms", "step_time_vs_float32", "served_accuracy",
                                          "served_vs_in_memory_max_abs", "note"])})
    dropout = results.get("modality_dropout") or results.get("modality_dropout_quick")
    if dropout and dropout.get("gaps"):
        gaps = dropout["gaps"]
        models = list(dict.fromkeys(g["model"] for g in gaps))
        helps = all(g2["gap_to_single"] <= g1["gap_to_single"] + 0.02 for g1, g2 in
                    zip([g for g in gaps if g["model"] == models[0]], [g for g in gaps if g["model"] == models[-1]]))
        out.append({"id": "modality_dropout", "title": "Modality dropout on av_digits, one input removed at test time",
                    "goal": "gap to the single-input model with dropout <= without (+0.02)", "met": helps,
                    "measured": "; ".join(f"{g['model']}, no {g['removed']}: gap {g['gap_to_single']:+.3f}"
                                          for g in gaps),
                    "body": _table(dropout.get("results", [])) + "\n" + _table(gaps, ["model", "removed",
                                                                                      "gap_to_single"])
                            + f"\n{dropout.get('epochs')} epochs, {dropout.get('train_rows')} train rows, "
                              f"command `{dropout.get('command', 'python -m benchmarks.modality_dropout')}`.\n"})
    shards = results.get("shards")
    if shards and isinstance(shards.get("results"), dict):
        rows = [{"data": k, **v} for k, v in shards["results"].items()]
        out.append({"id": "shards", "title": "TFRecord shards vs files (input pipeline alone, examples/s)",
                    "goal": "reported", "met": None,
                    "measured": ", ".join(f"{r['data']} shards {r['shards_vs_files']:.2f}x files, "
                                          f"{r['mib_per_1000']:.1f} MiB per 1000" for r in rows),
                    "body": _table(rows, ["data", "convert_ex_per_s", "mib_per_1000", "files_ex_per_s",
                                          "shards_ex_per_s", "shards_vs_files", "worker_ex_per_s", "worker_examples"])})
    retrieval = results.get("retrieval") or results.get("retrieval_quick")
    if retrieval and isinstance(retrieval.get("results"), list) and retrieval["results"]:
        rows = retrieval["results"]
        out.append({"id": "retrieval", "title": "Cross-modal retrieval on OpenMoji test (recall from the export)",
                    "goal": "recall@10 above chance both ways, export equals the run",
                    "met": all(r["R@10"] > r["chance@10"] and r.get("export_equals_run", True) for r in rows),
                    "measured": "; ".join(f"{r['direction']} R@1 {r['R@1']:.2f} (chance {r['chance@1']:.2f}), "
                                          f"R@10 {r['R@10']:.2f} (chance {r['chance@10']:.2f})" for r in rows),
                    "body": _table(rows) + f"\n{retrieval.get('epochs')} epochs, command "
                                           f"`{retrieval.get('command', 'python -m benchmarks.retrieval')}`.\n"})
    out += issue_14_figures(results)
    if isinstance(results.get("distribute"), dict) and results["distribute"].get("projection"):
        out.append(_distribute_figure(results["distribute"]))
    known = {"modality_dropout"} | {f["id"] for f in out}
    if shards and isinstance(shards.get("results"), dict):
        known.add("shards")
    for name in EXTRA_MODULES:
        if name in results and name not in known:
            out.append(_generic(name, results[name]))
    return out


def _figure_2(rows, cpu_cost=None):
    """Figure 2: CPU-seconds per example against the per-file loop (older results: the wall-time speedup)."""
    if not all("cpu_ratio" in r for r in rows):  # results written before the per-core figure
        return {"id": "2", "title": "Against the usual per-file Python loop (Pillow, soundfile, librosa)",
                "goal": ">= 5x", "met": all(r["speedup"] >= 5 for r in rows),
                "measured": ", ".join(f"{r['data']} {r['speedup']:.1f}x" for r in rows),
                "body": _table(rows, ["data", "examples", "usual_ex_per_s", "mmkeras_ex_per_s", "speedup",
                                      "usual_end_to_end_s", "mmkeras_end_to_end_s", "epochs"])}
    goal = rows[0].get("goal", 3.0)
    body = _table(rows, ["data", "examples", "usual_cpu_ms", "mmkeras_cpu_ms", "cpu_ratio", "usual_wall_ms",
                         "mmkeras_wall_ms", "wall_ratio", "usual_cpu_ms_default_blas", "mmkeras_build_cpu_s"])
    body += ("\nCPU ms per example: process user + system time over the pass, every thread; the loop with numpy's "
             "BLAS on one thread (its cheapest; `usual_cpu_ms_default_blas` with its default threads); building the "
             "tf.data pipeline once (`mmkeras_build_cpu_s`, seconds) is not per example. Time to a trained model:\n"
             + _table(rows, ["data", "usual_end_to_end_s", "mmkeras_end_to_end_s", "epochs"]))
    for name, r in ((cpu_cost or {}).get("results") or {}).items():
        if r.get("stages"):
            body += (f"\nEach per-example stage alone, {name} (`python -m benchmarks.cpu_cost`, its own run; "
                     "CPU and wall microseconds per example):\n" + _table(r["stages"], ["side", "stage", "cpu_us",
                                                                                      "wall_us"]))
    return {"id": "2", "title": "CPU-seconds per example against the usual per-file Python loop (first uncached "
                                "epoch)", "goal": f">= {goal:g}x fewer", "met": all(r["cpu_ratio"] >= goal for r in rows),
            "measured": ", ".join(f"{r['data']} {r['cpu_ratio']:.1f}x (wall {r['wall_ratio']:.1f}x)" for r in rows),
            "body": body}


def _figure_4(device, rows):
    """Figure 4: the default jit_compile against the faster of XLA on/off (older results: XLA never slower)."""
    if not all("default_vs_best" in r for r in rows):
        return {"id": "4" if device == "cpu" else "4 (GPU)", "title": f"XLA train step on vs off, {device.upper()}",
                "goal": "never slower (>= 1.0x)",
                "met": all(r["speedup"] >= 1.0 and r.get("xla_really_on", True) for r in rows),
                "measured": ", ".join(f"{r['fusion']} {r['speedup']:.2f}x" for r in rows),
                "body": _table(rows, ["fusion", "xla_ms", "no_xla_ms", "speedup", "xla_really_on"])}
    return {"id": "4" if device == "cpu" else "4 (GPU)",
            "title": f"Train step with the default jit_compile vs the faster of XLA on/off, {device.upper()}",
            "goal": "default <= 1.05x the faster, per fusion",
            "met": all(r["default_vs_best"] <= 1.05 and r.get("xla_really_on", True) for r in rows),
            "measured": ", ".join(f"{r['fusion']} {r['default_vs_best']:.2f}x ({r['default_xla']})" for r in rows),
            "body": _table(rows, ["fusion", "xla_ms", "no_xla_ms", "default_ms", "default_xla", "default_vs_best",
                                  "speedup", "xla_really_on"])}


def _distribute_figure(payload):
    """Scaling out: examples/s of 1 process, 2 workers and the tf.data service; the ring all-reduce projection."""
    rows = [{k: r.get(k) for k in ("setup", "global_batch", "examples_per_s", "step_s")} for r in payload["results"]]
    projection = payload["projection"]
    at64 = projection[-1]
    speeds = ", ".join(f"{r['setup']} {r['examples_per_s']:.0f}" for r in rows)
    body = (_table(rows) + f"\nGradients {payload['results'][0]['gradient_bytes'] / 2 ** 20:.2f} MiB per step; one "
            f"all-reduce of them between 2 workers on loopback: {payload['loopback_gbit_s']:.2f} Gbit/s effective. "
            f"Projection (ring all-reduce, {payload['args']['latency_us']:g} us per message, per-replica compute "
            f"{payload['per_replica_compute']['step_s'] * 1000:.1f} ms measured, no overlap):\n\n"
            + _table(projection, ["replicas", "step_ms_25g", "efficiency_25g", "step_ms_100g", "efficiency_100g"]))
    return {"id": "distribute", "title": "Scaling out: 1 process, 2 workers, tf.data service; all-reduce projection",
            "goal": "reported", "met": None,
            "measured": f"examples/s {speeds}; projected efficiency at {at64['replicas']} replicas "
                        f"{at64['efficiency_25g']:.2f} (25 Gbit/s), {at64['efficiency_100g']:.2f} (100 Gbit/s)",
            "body": body}


def _generic(name, payload):
    """A figure from another module's JSON: its `goals` list ({figure, goal, value, met}) and `results`."""
    goals = payload.get("goals") or []
    met = None
    if goals:
        met = all(bool(g.get("met")) for g in goals if g.get("met") is not None) if any(
            g.get("met") is not None for g in goals) else None
    results = payload.get("results")
    if isinstance(results, dict):
        results = [{"case": k, **v} if isinstance(v, dict) else {"case": k, "value": v} for k, v in results.items()]
    body = (_table(goals, ["figure", "goal", "value", "met"]) + "\n" if goals else "") + _table(results or [])
    return {"id": name, "title": payload.get("title", name.replace("_", " ").capitalize()),
            "goal": "; ".join(str(g.get("goal", "")) for g in goals) or "reported", "met": met,
            "measured": "; ".join(f"{g.get('figure', '')} {_fmt(g.get('value'))}" for g in goals) or "see below",
            "body": body}


def unmet_profile_parts(results=None):
    """Parts of `benchmarks.profile` to run: those whose figure's goal was not met in `results`.

    Example:

    >>> unmet_profile_parts({"audio_frontend": {"results": [{"feature": "log_mel", "speedup": 4.0}]}})
    ['audio_frontend']
    """
    results = load_results() if results is None else results
    return [PROFILED[f["id"]] for f in figures(results) if f["id"] in PROFILED and f["met"] is False]


def _profile_section(part, profile):
    r = (profile or {}).get("results", {}).get(part)
    if not r:
        return (f"\nWhat bounds it: not profiled yet; run `python -m benchmarks.profile --parts {part}` and "
                "re-render with `python -m benchmarks.report`.\n")
    out = [f"\n**What bounds it (profile: `python -m benchmarks.profile --parts {part}`, a TensorFlow profiler "
           f"trace parsed from its .xplane.pb, plus stages timed alone).** {r['bound']}\n"]
    if part == "pipeline":
        rows = [{"fed from": k, **{c: v for c, v in t.items() if not c.startswith("top")}}
                for k, t in r["traced"].items()]
        out += ["\nPer epoch, traced:\n", _table(rows, ["fed from", "epoch_s", "in_steps_s", "input_wait_s",
                                                      "xla_execute_s", "outside_steps_s", "tf_data_work_s",
                                                      "xla_kernels_s", "cores_busy"]),
                "\nEach stage alone:\n", _table(r["stages"], ["stage", "seconds", "examples_per_s"]),
                "\nOutside the train steps, python thread (files-fed; ms per epoch over the traced fit call):\n",
                _table(r["traced"]["files"].get("top_outside_steps", []), ["name", "self_ms", "share"]),
                "\nTop XLA kernels by self time (files-fed epoch):\n",
                _table(r["traced"]["files"].get("top_compute_ops", []), ["name", "self_ms", "share"])]
    elif part == "xla":
        out += ["\nEach encoder alone, forward + backward (ms, fastest of the repeats):\n",
                _table(r["encoders"], ["encoder", "xla_ms", "no_xla_ms", "xla_minus_no_xla_ms"]),
                "\nTop op types by self time without XLA (trace):\n", _table(r["op_types"]["off"], ["name", "self_ms", "share"]),
                "\nSelf time per thread group with XLA (trace):\n",
                _table(r["thread_groups"]["on"], ["name", "self_ms", "share"])]
    else:
        out += ["\nStages timed alone:\n", _table(r["stages"], ["side", "stage", "ms"]),
                "\nOp types of the in-graph log-mel by self time (trace):\n",
                _table(r["trace_op_types"], ["name", "self_ms", "share"])]
    return "".join(out)


def _machine_section(results):
    run = results.get("_run") or {}
    machine = run.get("machine") or next((v["machine"] for v in results.values() if "machine" in v), None)
    out = ["\n## Machine and run\n"]
    if run.get("command"):
        out.append(f"- command: `{run['command']}`\n")
    if machine:
        out += [f"- {k}: {v}\n" for k, v in machine.items()]
    busy_others = []
    for when in ("started", "finished"):
        snap = run.get(when)
        if not snap:
            continue
        others = [p for p in snap.get("top_processes", []) if p["name"] != "self"]
        busy_others += [p for p in others if p["cpu_percent"] >= 10]
        shown = ", ".join(f"{p['name']} {p['cpu_percent']:.0f}%" for p in snap.get("top_processes", [])) or "none"
        out.append(f"- {when} {snap.get('time')}: load average {snap.get('load_average')}; busiest processes "
                   f"(CPU over 1 s): {shown}\n")
    if run:
        out.append("- other processes busy during the run: "
                   + ("**yes** (figures are not comparable with a quiet run): "
                      + ", ".join(sorted({p['name'] for p in busy_others})) if busy_others else "no") + "\n")
        stale = [f"{k} ({v['written']})" for k, v in results.items()
                 if k != "_run" and v.get("written") and run.get("started") and v["written"] < run["started"]["time"]]
        if stale:
            out.append("- results from earlier runs (written before this one started): " + ", ".join(stale) + "\n")
        out.append("- seconds per benchmark: " + ", ".join(f"{k} {v.get('seconds')} ({v.get('status')})"
                                                           for k, v in run.get("modules", {}).items()) + "\n")
    return "".join(out)


def render(results):
    """RESULTS.md's text for `results` (as `load_results` returns them).

    Example:

    >>> text = render(load_results())
    >>> text.startswith("# Benchmark results")
    True
    """
    run = results.get("_run") or {}
    figs = figures(results)
    out = ["# Benchmark results\n",
           "Written by `python -m benchmarks` (see each module's docstring for its method). Each figure is a ratio "
           "measured within one run, medians over repeats; raw numbers in `benchmarks/results/*.json`.\n"]
    if run.get("quick"):
        out.append("\n**Quick run (`--quick`): tiny sizes, the numbers only show that the suite runs.**\n")
    out += ["\n## Summary\n", _table([{"figure": f["id"], "what": f["title"], "goal": f["goal"],
                                       "measured": f["measured"], "verdict": _verdict(f["met"])} for f in figs],
                                     ["figure", "what", "goal", "measured", "verdict"])]
    profile = results.get("profile")
    for f in figs:
        out += [f"\n## {f['id']}. {f['title']} (goal {f['goal']}: {_verdict(f['met'])})\n", f["body"]]
        if f["id"] in PROFILED and f["met"] is False:
            out.append(_profile_section(PROFILED[f["id"]], profile))
    out.append(_machine_section(results))
    notes = os.path.join(HERE, "NOTES.md")
    if os.path.isfile(notes):
        with open(notes, encoding="utf-8") as fh:
            out += ["\n## Notes\n", fh.read()]
    return "".join(s if s.endswith("\n") else s + "\n" for s in out)


def write_report(path=RESULTS_MD, results_dir=RESULTS_DIR):
    """Renders every available result with its goal into `path`; returns the path written.

    Example:

    >>> write_report()
    '.../benchmarks/RESULTS.md'
    """
    text = render(load_results(results_dir))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def main(argv=None):
    """`python -m benchmarks.report`: re-renders RESULTS.md from the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=RESULTS_DIR)
    parser.add_argument("--out", default=RESULTS_MD)
    args = parser.parse_args(argv)
    print(f"written to {write_report(args.out, args.results)}")


if __name__ == "__main__":
    main()
