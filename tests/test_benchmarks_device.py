"""The device benchmark's plumbing (`python -m benchmarks --device [--dry-run]`) and its smallest real part, on CPU."""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import __main__ as suite, common, device  # noqa: E402


def test_parts_run_in_order_within_the_budget_and_a_failure_is_recorded(monkeypatch):
    calls = []

    def ok(spec, sizes, dry_run):
        calls.append("ok")
        return {"rows": [{"value": 1.0}]}

    def broken(spec, sizes, dry_run):
        raise ValueError("no such kernel")

    monkeypatch.setattr(device, "PART_FUNCTIONS", {"xla": ok, "throughput": broken, "efficiency": ok})
    out = device.run_parts(["xla", "throughput"], {}, {}, dry_run=True, budget_s=60)
    assert out["xla"]["status"] == "ok" and out["xla"]["rows"] == [{"value": 1.0}]
    assert out["xla"]["peak_memory_mib"] is None  # no accelerator here: not reported, not made up
    assert out["throughput"] == {**out["throughput"], "status": "failed", "error": "ValueError: no such kernel"}
    late = device.run_parts(["efficiency"], {}, {}, budget_s=-1)
    assert late["efficiency"]["status"] == "skipped: over the time budget" and calls == ["ok"]


def test_the_suite_runs_the_device_benchmark_and_keeps_the_dry_run_apart(monkeypatch, tmp_path):
    monkeypatch.setattr(common, "RESULTS_DIR", str(tmp_path))
    seen = []
    monkeypatch.setattr(device, "PART_FUNCTIONS", {p: (lambda spec, sizes, dry_run, p=p: seen.append((p, sizes))
                                                       or {"rows": []}) for p in device.PARTS})
    monkeypatch.setattr(device, "base_spec", lambda examples, dry_run, work: {"examples": examples})
    assert suite.main(["--device", "--dry-run", "--report", str(tmp_path / "RESULTS.md")]) == 0
    assert [p for p, _ in seen] == list(device.PARTS)
    assert seen[0][1] == {k: v[1] for k, v in device.SIZES.items()}  # the tiny sizes
    with open(tmp_path / "device_dry_run.json", encoding="utf-8") as f:
        written = json.load(f)
    assert written["dry_run"] is True and written["device"] == "CPU" and set(written["results"]) == set(device.PARTS)
    assert not (tmp_path / "device_cpu.json").exists()  # a dry run never stands in for a device's figures
    assert "Device benchmark (dry run" in (tmp_path / "RESULTS.md").read_text()


def test_the_smallest_real_part_runs_on_cpu(tmp_path):
    sizes = {k: v[1] for k, v in device.SIZES.items()}
    spec = device.base_spec(48, True, str(tmp_path))
    out = device.run_parts(["throughput"], spec, sizes, dry_run=True, budget_s=60)["throughput"]
    assert out["status"] == "ok", out
    assert out["xla"] is False  # jit_compile left to its default: off on this CPU-only host
    assert out["memory_fed_ex_per_s"] > 0 and out["files_fed_ex_per_s"] > 0
