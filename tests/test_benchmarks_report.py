"""The benchmark report (RESULTS.md) from fake results, the suite runner and the trace parser; no training."""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import common, report  # noqa: E402

MACHINE = {"python": "3.11", "cpus": 2, "tensorflow": "2.21.0", "keras": "3.15.1", "cpu": "AMD EPYC",
           "memory_gib": 23.5, "gpus": []}


def fake_results():
    return {
        "_run": {"machine": MACHINE, "command": "python -m benchmarks", "quick": False,
                 "started": {"time": "t0", "load_average": [0.1, 0.2, 0.3],
                             "top_processes": [{"pid": 1, "name": "self", "cpu_percent": 5.0}]},
                 "finished": {"time": "t1", "load_average": [1.9, 1.0, 0.5],
                              "top_processes": [{"pid": 7, "name": "pytest", "cpu_percent": 95.0}]},
                 "modules": {"pipeline": {"seconds": 100.0, "status": "ok"}}},
        "pipeline": {"machine": MACHINE, "results": {"generated_2000": {
            "efficiency": {"first_epoch": 0.45, "later_epochs": 0.88, "files_ex_per_s_later": 800.0,
                           "memory_ex_per_s": 909.0},
            "usual_way": {"usual_ex_per_s": 100.0, "mmkeras_ex_per_s": 700.0, "speedup": 7.0,
                          "usual_end_to_end_s": 30.0, "mmkeras_end_to_end_s": 10.0, "epochs": 5,
                          "examples": 1400}}}},
        "audio_frontend": {"machine": MACHINE, "results": [
            {"feature": "log_mel", "speedup": 12.0, "speedup_xla": 13.0, "parity_ok": True, "parity_rel_err": 1e-7},
            {"feature": "mfcc", "speedup": 11.0, "speedup_xla": 12.0, "parity_ok": True, "parity_rel_err": 1e-7},
            {"feature": "spectrogram", "speedup": 2.0, "speedup_xla": 2.5, "parity_ok": True}]},
        "xla_cpu": {"machine": MACHINE, "results": [{"fusion": "concat", "xla_ms": 10.0, "no_xla_ms": 12.0,
                                                     "speedup": 1.2, "xla_really_on": True}]},
        "profile": {"machine": MACHINE, "results": {"pipeline": {
            "bound": "BOUND-SENTENCE-12345",
            "traced": {"files": {"epoch_s": 1.1, "input_wait_s": 0.01, "top_compute_ops": [
                {"name": "fusion.3", "self_ms": 5.0, "share": 0.5}]}, "memory": {"epoch_s": 1.0}},
            "stages": [{"stage": "read files", "seconds": 0.1, "examples_per_s": 2000.0}]}}},
    }


def test_report_judges_goals_and_explains_the_unmet_ones():
    results = fake_results()
    verdicts = {f["id"]: f["met"] for f in report.figures(results)}
    assert verdicts == {"1": False, "2": True, "3": True, "4": True}
    assert report.unmet_profile_parts(results) == ["pipeline"]
    text = report.render(results)
    assert "## 1. Pipeline efficiency" in text and "**not met**" in text
    section_1 = text.split("## 1.")[1].split("## 2.")[0]
    assert "BOUND-SENTENCE-12345" in section_1 and "fusion.3" in section_1
    assert "BOUND-SENTENCE" not in text.split("## 3.")[1]  # met goals get no profile
    assert "load average [0.1, 0.2, 0.3]" in text and "load average [1.9, 1.0, 0.5]" in text
    assert "other processes busy during the run: **yes**" in text and "pytest" in text
    assert "`python -m benchmarks`" in text and "AMD EPYC" in text


def test_report_flags_slow_audio_and_missing_profile(tmp_path):
    results = fake_results()
    results["audio_frontend"]["results"][1]["speedup"] = 4.0  # mfcc under 10x
    del results["profile"]
    results["_run"]["quick"] = True
    assert report.unmet_profile_parts(results) == ["pipeline", "audio_frontend"]
    for name, payload in results.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(payload))
    path = report.write_report(str(tmp_path / "out" / "RESULTS.md"), str(tmp_path))
    text = open(path, encoding="utf-8").read()
    assert "Quick run" in text
    assert text.count("not profiled yet") == 2
    assert "mfcc 4.0x" in text


def test_suite_skips_modules_that_are_not_there_and_snapshot_reads_proc():
    from benchmarks.__main__ import run_one

    out = run_one("no_such_benchmark", [])
    assert out["status"] == "skipped" and "no_such_benchmark" in out["error"]
    import threading

    done = threading.Event()

    def burn():
        while not done.is_set():
            sum(range(1000))

    busy = threading.Thread(target=burn)
    busy.start()  # this process burns CPU for as long as the snapshot samples /proc
    try:
        snap = common.load_snapshot(interval=0.5, top=10**6)
    finally:
        done.set()
        busy.join()
    assert len(snap["load_average"]) == 3
    assert any(p["name"] == "self" and p["cpu_percent"] > 0 for p in snap["top_processes"])


def test_profile_parses_a_real_trace(tmp_path):
    import tensorflow as tf

    from benchmarks import xplane

    fn = tf.function(lambda x: tf.linalg.matmul(x, x))
    x = tf.ones([64, 64])
    fn(x)
    _, path = xplane.trace(lambda: [fn(x).numpy() for _ in range(3)], str(tmp_path))
    assert path.endswith(".xplane.pb")
    events = xplane.load_events(path)
    assert any("MatMul" in name for _, name, _, _, _ in events)
    assert all(0 <= self_ps <= dur for _, _, _, dur, self_ps in events)
    top = xplane.top_self_time(events, 3)
    assert len(top) == 3 and abs(sum(t["share"] for t in xplane.top_self_time(events, 10**6)) - 1) < 1e-6


def test_epoch_summary_splits_steps_waits_and_threads():
    from benchmarks import xplane

    ms = 10**9  # picoseconds per millisecond
    events = [  # (thread, name, start, duration, self time), as load_events gives them
        ("python", "multi_step_on_iterator", 0, 40 * ms, 1 * ms),
        ("python", "EagerLocalExecute: __inference_multi_step_on_iterator_7", 0, 39 * ms, 39 * ms),
        ("python", "multi_step_on_iterator", 50 * ms, 40 * ms, 1 * ms),
        ("tf_data_iterator_get_next/1", "IteratorGetNextOp::DoCompute", 0, 6 * ms, 6 * ms),
        ("tf_Compute/2", "CpuExecutable::ExecuteAsyncOnStream", 6 * ms, 30 * ms, 2 * ms),
        ("tf_numa_-1_Eigen/3", "fusion.1", 6 * ms, 25 * ms, 25 * ms),
        ("tf_data_iterator_resource/4", "Iterator::Root::Prefetch::BatchV2", 0, 5 * ms, 5 * ms),
    ]
    s = xplane.summarize_epoch(events, wall_s=0.1, examples=64, cpu_s=0.05)
    assert s["step_calls"] == 2 and abs(s["in_steps_s"] - 0.08) < 1e-9 and abs(s["outside_steps_s"] - 0.02) < 1e-9
    assert abs(s["input_wait_s"] - 0.006) < 1e-9 and abs(s["xla_execute_s"] - 0.03) < 1e-9
    assert abs(s["tf_data_work_s"] - 0.005) < 1e-9 and abs(s["xla_kernels_s"] - 0.025) < 1e-9
    assert s["cores_busy"] == 0.5 and s["examples_per_s"] == 640
