"""Figure 6: exported SavedModel latency at batch 1 (p50/p99, raw file bytes in) and
throughput at batch 64.

    python -m benchmarks.serving [--examples 600] [--calls 200]
"""

import argparse
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

import mmkeras
from benchmarks import common
from benchmarks.datasets import generated_spec
from mmkeras.demo.run import raw_batch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=600)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)
    spec = mmkeras.load_spec(generated_spec(args.examples, image_audio_only=False, epochs=1))
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    model.fit(mmkeras.make_dataset(spec, splits["train"], pre, training=True), epochs=1, verbose=0)
    path = mmkeras.export_saved_model(model, pre, os.path.join(tempfile.mkdtemp(), "export"))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    rows = raw_batch(spec, splits["test"], spec.data.root)
    n = len(splits["test"])

    def call(start, size):
        idx = [(start + i) % n for i in range(size)]
        return serve(**{k: tf.constant(v[idx]) for k, v in rows.items()})

    for i in range(10):  # warm up both shapes
        call(i, 1), call(i, 64)
    latencies = []
    for i in range(args.calls):
        t = time.perf_counter()
        call(i, 1)
        latencies.append(time.perf_counter() - t)
    batch_times = []
    for i in range(max(10, args.calls // 10)):
        t = time.perf_counter()
        call(i * 64, 64)
        batch_times.append(time.perf_counter() - t)
    result = {"p50_ms_batch1": float(np.percentile(latencies, 50) * 1e3),
              "p99_ms_batch1": float(np.percentile(latencies, 99) * 1e3),
              "examples_per_s_batch64": float(64 / np.median(batch_times)),
              "inputs": list(rows)}
    common.print_table("6. Serving the SavedModel on raw file bytes", [result],
                       ["p50_ms_batch1", "p99_ms_batch1", "examples_per_s_batch64"])
    out = common.write_result("serving", {"args": vars(args), "results": result})
    print(f"\nwritten to {out}")
    return result


if __name__ == "__main__":
    main()
