"""tf.distribute for real, on loopback and logical CPUs: mirrored == default, a SIGKILLed run resumes to the same
weights, two `multi_worker` processes started from the CLI == one process, the tf.data service sees every example
once. Each test starts its processes with free ports, waits a bounded time and ends every process it started."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd
import pytest

import mmkeras
from mmkeras.runs.lifecycle import train_run
from mmkeras.runs.predict import predict_table
from mmkeras.testing import tiny_demo

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
WAIT = 300  # seconds any process of these tests may take, at most (the machine is shared)
CLI = [sys.executable, "-m", "mmkeras"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spec_file(tmp_path, name, spec_dict, **training):
    spec_dict = json.loads(json.dumps(spec_dict))
    spec_dict["training"].update(training)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(spec_dict))
    return str(path)


def _cheap(spec_dict, inputs=("reading", "colour", "caption")):
    spec_dict["inputs"] = {k: spec_dict["inputs"][k] for k in inputs}
    return spec_dict


def _weights(run_dir):
    return keras.saving.load_model(os.path.join(run_dir, "model.keras")).get_weights()


def _max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def _start(args, env=None, **kwargs):
    return subprocess.Popen(CLI + args if args[0] != sys.executable else args, env=env or ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)


def _finish(processes, timeout=WAIT):
    """Waits for every process (bounded), then kills any still running; returns their outputs."""
    outputs = []
    deadline = time.monotonic() + timeout
    try:
        for p in processes:
            out, _ = p.communicate(timeout=max(1, deadline - time.monotonic()))
            outputs.append(out)
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    return outputs


MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from mmkeras.cli import main
status = main(["train", sys.argv[1], "--out", sys.argv[2], "--strategy", "mirrored"])
sys.exit(status or main(["train", sys.argv[3], "--out", sys.argv[4], "--strategy", "default"]))
"""


def test_mirrored_over_two_logical_cpus_equals_the_default_strategy(tmp_path):
    """Tolerance 1e-5 on every weight after 2 epochs of shuffled data (the same global batch and data order)."""
    manifest, spec_dict = tiny_demo(str(tmp_path), n=48, epochs=2, batch_size=8)
    spec_dict = _cheap(spec_dict, ("picture", "reading", "colour"))
    spec = _spec_file(tmp_path, "spec", spec_dict, jit_compile=False, deterministic=True)  # the same order in both
    out_m, out_d = str(tmp_path / "mirrored_run"), str(tmp_path / "default_run")
    [log] = _finish([_start([sys.executable, "-c", MIRRORED, spec, out_m, spec, out_d])])
    assert "strategy: mirrored, 2 replicas; global batch 8 = 4 per replica" in log, log
    assert json.load(open(os.path.join(out_m, "distribute.json")))["replicas"] == 2
    assert json.load(open(os.path.join(out_m, "spec.json")))["training"]["strategy"] == "mirrored"
    assert _max_difference(_weights(out_m), _weights(out_d)) < 1e-5
    history_m, history_d = (pd.read_csv(os.path.join(d, "history.csv")) for d in (out_m, out_d))
    np.testing.assert_allclose(history_m["loss"], history_d["loss"], atol=1e-5)


RESUME = """
import sys
from mmkeras.cli import main
changed, spec, run, reference = sys.argv[1:]
assert main(["train", changed, "--out", run, "--resume"]) == 2          # a changed spec is refused
assert main(["train", spec, "--out", run, "--resume"]) == 0
sys.exit(main(["train", spec, "--out", reference]))
"""


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    """SIGKILL in epoch 2 (after its step-2 checkpoint), `--resume`: weights within 1e-6, each epoch once."""
    manifest, spec_dict = tiny_demo(str(tmp_path), n=64, epochs=3, batch_size=8)
    options = dict(deterministic=True, jit_compile=False, checkpoint_every=2)
    spec = _spec_file(tmp_path, "spec", _cheap(spec_dict), **options)
    changed = _spec_file(tmp_path, "changed", _cheap(spec_dict), **dict(options, learning_rate=0.01))
    run, reference = str(tmp_path / "run"), str(tmp_path / "reference")
    pointer = os.path.join(run, "checkpoints", "checkpoint.json")
    killed = _start(["train", spec, "--out", run])
    try:
        deadline, state = time.monotonic() + WAIT, {}
        while time.monotonic() < deadline and killed.poll() is None:
            try:
                state = json.load(open(pointer))
            except (OSError, ValueError):
                state = {}
            if (state.get("epoch"), state.get("step", 0) >= 2) == (1, True):
                break
            time.sleep(0.02)
        assert killed.poll() is None, "the run ended before it could be killed in epoch 2"
        killed.send_signal(signal.SIGKILL)
    finally:
        _finish([killed])
    assert not os.path.exists(os.path.join(run, "metrics.json"))
    assert list(pd.read_csv(os.path.join(run, "history.csv"))["epoch"]) == [0]
    [log] = _finish([_start([sys.executable, "-c", RESUME, changed, spec, run, reference])])
    assert "the spec changed since the run started (training.learning_rate: 0.003 -> 0.01)" in log, log
    assert "resuming from the checkpoint after epoch 1, step " in log
    assert _max_difference(_weights(run), _weights(reference)) < 1e-6
    assert list(pd.read_csv(os.path.join(run, "history.csv"))["epoch"]) == [0, 1, 2]
    assert os.path.isfile(os.path.join(run, "saved_model", "saved_model.pb"))


def test_two_workers_from_the_cli_train_like_one_process(tmp_path):
    """2 workers on loopback, global batch 8 (4 per worker): identical weights on both, 1e-5 of one process."""
    manifest, spec_dict = tiny_demo(str(tmp_path), n=48, epochs=2, batch_size=8)
    spec_dict = _cheap(spec_dict, ("picture", "reading", "colour"))
    spec = _spec_file(tmp_path, "spec", spec_dict, jit_compile=False, deterministic=True)
    out, worker_tmp = str(tmp_path / "run"), tmp_path / "worker1_tmp"
    worker_tmp.mkdir()
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = []
    for index in range(2):
        env = dict(ENV, TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        if index:
            env["TMPDIR"] = str(worker_tmp)
        processes.append(_start(["train", spec, "--out", out], env=env))
    logs = _finish(processes)
    assert [p.returncode for p in processes] == [0, 0], logs
    assert "strategy: multi_worker (auto), 2 replicas on 2 workers; global batch 8 = 4 per replica" in logs[0]
    digest = [line.split("weights ")[1].split(";")[0] for line in logs[1].splitlines() if "weights " in line]
    assert digest and mmkeras.runs.distributed.weights_digest(
        keras.saving.load_model(os.path.join(out, "model.keras"))) == digest[0]      # the same weights on both
    assert os.listdir(worker_tmp) == []                                              # worker 1 wrote nothing left
    single = str(tmp_path / "single")
    train_run(spec, single, verbose=False, strategy="default")
    assert _max_difference(_weights(out), _weights(single)) < 1e-5
    test_rows = mmkeras.load_splits(mmkeras.load_spec(spec))["test"]
    table = tmp_path / "test.csv"
    test_rows.to_csv(table, index=False)
    served = predict_table(os.path.join(out, "saved_model"), str(table), root=os.path.dirname(manifest),
                           out=str(tmp_path / "pred.csv"))
    assert len(served) == len(test_rows)


def _wait_for_checkpoint(pointer, processes, epoch, step):
    """Waits (bounded) until the run's checkpoint pointer is at `epoch` with at least `step` steps."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and all(p.poll() is None for p in processes):
        try:
            state = json.load(open(pointer))
        except (OSError, ValueError):
            state = {}
        if state.get("epoch") == epoch and state.get("step", 0) >= step:
            return
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint of epoch {epoch + 1}, step {step} before a process ended or {WAIT} s")


def _two_workers(spec, out, tmp_path, *extra):
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = []
    for index in range(2):
        env = dict(ENV, TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        worker_tmp = tmp_path / f"worker{index}_tmp"
        worker_tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(worker_tmp)
        processes.append(_start(["train", spec, "--out", out, *extra], env=env))
    return processes


def test_a_killed_two_worker_run_resumes_to_the_weights_of_one_process(tmp_path):
    """SIGKILL worker 1 in epoch 2, then the chief (its peer is gone); both restart with `--resume`."""
    manifest, spec_dict = tiny_demo(str(tmp_path), n=64, epochs=3, batch_size=8)
    spec = _spec_file(tmp_path, "spec", _cheap(spec_dict, ("picture", "reading", "colour")), deterministic=True,
                      jit_compile=False, checkpoint_every=2)
    run = str(tmp_path / "run")
    processes = _two_workers(spec, run, tmp_path)
    try:
        _wait_for_checkpoint(os.path.join(run, "checkpoints", "checkpoint.json"), processes, 1, 2)
        processes[1].send_signal(signal.SIGKILL)
        time.sleep(1)
        processes[0].send_signal(signal.SIGKILL)
    finally:
        _finish(processes)
    assert not os.path.exists(os.path.join(run, "metrics.json"))
    resumed = _two_workers(spec, run, tmp_path, "--resume")
    logs = _finish(resumed)
    assert [p.returncode for p in resumed] == [0, 0], logs
    assert "resuming from the checkpoint after epoch 1, step " in logs[0], logs[0]
    assert list(pd.read_csv(os.path.join(run, "history.csv"))["epoch"]) == [0, 1, 2]
    single = str(tmp_path / "single")
    train_run(spec, single, verbose=False, strategy="default")
    assert _max_difference(_weights(run), _weights(single)) < 1e-5
    assert os.path.isfile(os.path.join(run, "saved_model", "saved_model.pb"))


def _read_line(process, needle, timeout):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no {needle!r} within {timeout} s: {''.join(seen)}")


def test_the_data_service_decodes_every_example_of_an_epoch_once(tmp_path):
    """One dispatcher and two workers (processes on loopback); the trainer counts each train example once."""
    manifest, spec_dict = tiny_demo(str(tmp_path), n=40, epochs=1, batch_size=1)
    port = free_port()
    spec = mmkeras.load_spec(_cheap(spec_dict, ("picture", "reading")) | {
        "training": dict(spec_dict["training"], data_service=f"grpc://127.0.0.1:{port}", jit_compile=False)})
    processes = [_start(["data-service", "dispatcher", "--port", str(port)])]
    try:
        _read_line(processes[0], "dispatcher listening", 120)
        processes += [_start(["data-service", "worker", "--dispatcher", f"127.0.0.1:{port}"]) for _ in range(2)]
        for worker in processes[1:]:
            _read_line(worker, "worker registered", 120)
        splits = mmkeras.load_splits(spec)
        pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
        seen = np.concatenate([inputs["reading"].numpy().ravel()                 # through the service
                               for inputs, _ in mmkeras.make_dataset(spec, splits["train"], pre, training=True)])
        local = np.concatenate([inputs["reading"].numpy().ravel()                # in this process, in order
                                for inputs, _ in mmkeras.make_dataset(spec, splits["train"], pre)])
        assert len(np.unique(local)) == len(local) == len(splits["train"])      # one distinct reading per row
        np.testing.assert_array_equal(np.sort(seen), np.sort(local))             # every example once, none twice
        metrics = train_run(spec, str(tmp_path / "run"), verbose=False)
        assert 0 <= metrics["test"]["label"]["accuracy"] <= 1
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
        _finish(processes, timeout=60)
