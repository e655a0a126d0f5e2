"""Scaling out: examples/s with 1 and 2 workers and with the tf.data service, and a model for planning past one host.

    python -m benchmarks.distribute [--examples 600] [--epochs 3] [--quick]

1. Throughput: the same spec (generated demo data, image + audio + numeric
   inputs) trained by one process (default strategy) and by two
   `multi_worker` processes on 127.0.0.1 (the same global batch), then by one
   process whose decoding runs on a tf.data service (one dispatcher and two
   worker processes). Examples/s of the last epoch. On one machine the
   processes share its cores, so this measures overhead, not speed-up.
2. Gradient bytes per step (the trainable variables) and the time of one
   all-reduce of them between the two workers on loopback.
3. A projection for 1-64 replicas: step time = per-replica compute time
   (measured: one process, per-replica batch) + ring all-reduce time
   `2 (N-1)/N * bytes / bandwidth + 2 (N-1) * latency`, at 25 and 100
   Gbit/s with `--latency-us` per message; efficiency = compute / step time.
   It assumes no overlap of communication with compute (Keras' fit reduces
   after the backward pass) and links that are the bottleneck (not PCIe,
   not the input pipeline).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

QUICK_ARGS = ["--quick"]
REPLICAS = (1, 2, 4, 8, 16, 32, 64)
LINKS_GBIT = (25, 100)


def _spec(examples, work, epochs, batch_size):
    from benchmarks.datasets import generated_spec

    spec = generated_spec(examples, work, image_audio_only=False, epochs=epochs)
    spec["training"].update({"batch_size": batch_size, "jit_compile": False, "seed": 0})
    path = os.path.join(work, f"spec_{batch_size}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    return path


def worker(spec_path, service=None):
    """One training process: prints one JSON line (examples/s, step time, gradient bytes, all-reduce time)."""
    import keras
    import tensorflow as tf

    import mmkeras
    from mmkeras.distribute import epoch_stream, fit_scope, plan_for

    spec = mmkeras.load_spec(spec_path)
    if service:
        spec = mmkeras.load_spec(spec.to_dict() | {"training": {**spec.to_dict()["training"], "data_service": service}})
    plan = plan_for(spec)  # first: multi_worker sets up its collectives before anything runs
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    with plan.scope():
        model = mmkeras.build_model(spec, pre)
    ds = mmkeras.make_dataset(spec, splits["train"], pre, training=True, strategy=plan.strategy)
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    stream, steps = epoch_stream(ds, len(splits["train"]) // spec.training.batch_size)
    with fit_scope(model, plan.strategy, ds):
        model.fit(stream, steps_per_epoch=steps, epochs=spec.training.epochs, verbose=0, callbacks=[Timer()])
    shapes = [v.shape for v in model.trainable_variables]
    row = {"workers": plan.workers, "service": bool(service), "global_batch": spec.training.batch_size,
           "examples_per_s": steps * spec.training.batch_size / times[-1], "step_s": times[-1] / steps,
           "gradient_bytes": int(sum(v.numpy().nbytes for v in model.trainable_variables))}
    if plan.workers > 1:
        @tf.function
        def all_reduce():
            def replica():
                return tf.distribute.get_replica_context().all_reduce("SUM", [tf.ones(s) for s in shapes])
            return plan.strategy.run(replica)

        all_reduce()
        start = time.perf_counter()
        for _ in range(10):
            all_reduce()
        row["all_reduce_s"] = (time.perf_counter() - start) / 10
    print(json.dumps(row), flush=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(commands, envs, timeout):
    """Runs processes together; returns the last JSON line of each (every process is ended)."""
    processes = [subprocess.Popen(c, env=e, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for c, e in zip(commands, envs)]
    try:
        outs = [p.communicate(timeout=timeout) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(processes, outs):
        if p.returncode:
            raise RuntimeError(f"a benchmark process failed ({p.returncode}): {err[-3000:]}")
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]


def _with_service(spec_path, env, timeout):
    """One training process whose decoding runs on a dispatcher and two workers (all ended afterwards)."""
    port = _free_port()
    cli = [sys.executable, "-m", "mmkeras", "data-service"]
    servers = [subprocess.Popen(cli + ["dispatcher", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)]
    try:
        servers += [subprocess.Popen(cli + ["worker", "--dispatcher", f"127.0.0.1:{port}"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        command = [sys.executable, "-m", "benchmarks.distribute", "--worker", spec_path,
                   "--service", f"grpc://127.0.0.1:{port}"]
        return _run([command], [env], timeout)[0]
    finally:
        for p in servers:
            p.kill()
            p.wait()


def ring_projection(compute_s, gradient_bytes, *, latency_s, links_gbit=LINKS_GBIT, replicas=REPLICAS):
    """Step time and efficiency of N replicas under a ring all-reduce model (see the module docstring).

    Example:

    >>> rows = ring_projection(0.1, 10**6, latency_s=25e-6, links_gbit=(100,), replicas=(1, 2))
    >>> rows[0]["efficiency_100g"], round(rows[1]["all_reduce_ms_100g"], 3)
    (1.0, 0.13)
    """
    rows = []
    for n in replicas:
        row = {"replicas": n}
        for gbit in links_gbit:
            bandwidth = gbit * 1e9 / 8
            reduce_s = 0.0 if n == 1 else 2 * (n - 1) / n * gradient_bytes / bandwidth + 2 * (n - 1) * latency_s
            row[f"all_reduce_ms_{gbit}g"] = reduce_s * 1e3
            row[f"step_ms_{gbit}g"] = (compute_s + reduce_s) * 1e3
            row[f"efficiency_{gbit}g"] = compute_s / (compute_s + reduce_s)
        rows.append(row)
    return rows


def main(argv=None):
    from benchmarks import common

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="global batch (per replica: half, on 2 workers)")
    parser.add_argument("--latency-us", type=float, default=25.0, help="per-message latency of the projection")
    parser.add_argument("--quick", action="store_true", help="120 examples, 2 epochs: checks it runs")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "mmkeras-bench-distribute"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--service", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.service)
    examples, epochs = (120, 2) if args.quick else (args.examples, args.epochs)
    work = os.path.join(args.work, str(examples))
    spec_path = _spec(examples, work, epochs, args.batch_size)
    per_replica_path = _spec(examples, work, epochs, args.batch_size // 2)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    command = [sys.executable, "-m", "benchmarks.distribute", "--worker"]
    timeout = 3600
    one = _run([command + [spec_path]], [env], timeout)[0]
    per_replica = _run([command + [per_replica_path]], [env], timeout)[0]
    hosts = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    envs = [dict(env, TF_CONFIG=json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}))
            for i in range(2)]
    two = _run([command + [spec_path]] * 2, envs, timeout)[0]
    service = _with_service(spec_path, env, timeout)
    rows = [dict(one, setup="1 process"), dict(two, setup="2 workers (multi_worker, loopback)"),
            dict(service, setup="1 process + tf.data service (1 dispatcher, 2 workers)")]
    common.print_table("Scaling out: examples/s on this machine (processes share its cores)", rows,
                       ["setup", "global_batch", "examples_per_s", "step_s", "gradient_bytes", "all_reduce_s"])
    projection = ring_projection(per_replica["step_s"], one["gradient_bytes"], latency_s=args.latency_us * 1e-6)
    common.print_table(f"Ring all-reduce projection: per-replica batch {args.batch_size // 2}, compute "
                       f"{per_replica['step_s'] * 1e3:.1f} ms/step (measured), {one['gradient_bytes'] / 2**20:.2f} MiB "
                       f"of gradients, {args.latency_us:g} us per message", projection,
                       ["replicas", "step_ms_25g", "efficiency_25g", "step_ms_100g", "efficiency_100g"])
    loopback = one["gradient_bytes"] / two["all_reduce_s"] * 8 / 1e9 if two.get("all_reduce_s") else None
    print(f"\nloopback all-reduce of {one['gradient_bytes']} bytes between 2 workers: "
          f"{two.get('all_reduce_s', 0) * 1e3:.2f} ms (about {loopback or 0:.2f} Gbit/s effective)")
    path = common.write_result("distribute_quick" if args.quick else "distribute", {
        "args": {"examples": examples, "epochs": epochs, "batch_size": args.batch_size, "latency_us": args.latency_us},
        "results": rows, "per_replica_compute": per_replica, "projection": projection,
        "loopback_gbit_s": loopback})
    print(f"\nwritten to {path}")
    return rows


if __name__ == "__main__":
    main()
