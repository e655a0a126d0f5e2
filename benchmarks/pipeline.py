"""Figures 1 and 2: does the input pipeline starve training, and how does it compare
with the usual per-file Python loop?

    python -m benchmarks.pipeline [--examples 2000] [--repeats 3] [--data demo|av_digits|both]

1. Pipeline efficiency: examples/s of `model.fit` fed by `make_dataset` from the
   files, divided by examples/s of the same compiled model fed from the
   already-preprocessed tensors in memory (first epoch, and epochs 2+ with
   `cache: memory`). Goal >= 0.95 from the second epoch on.
2. Against the usual way: files -> model-ready arrays with a Python loop
   (Pillow for images, soundfile + librosa for log-mel) versus the mmkeras
   pipeline on the same files and features, per core: CPU-seconds per example
   of the first, uncached epoch (`benchmarks.cpu_cost.per_core`; goal >= 3x
   fewer), the wall-time ratio beside it, and end-to-end time to a trained
   model both ways.
"""

import argparse
import statistics
import time

import numpy as np
import tensorflow as tf

import mmkeras
from mmkeras.data.presence import PRESENCE
from benchmarks import common
from benchmarks.cpu_cost import benchmark_specs, per_core, usual_way_arrays


def _epoch_timer(first_epoch_limit=None):
    """A callback recording epoch times; stops training after a first epoch slower than `first_epoch_limit` s."""
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)
            if epoch == 0 and first_epoch_limit is not None and self.times[0] > first_epoch_limit:
                self.model.stop_training = True

    return Timer()


def in_memory_dataset(ds, batch_size):
    """Materialises one pass of `ds` and serves the same tensors from memory."""
    xs, ys = [], []
    for x, y in ds:
        xs.append({k: v.numpy() for k, v in x.items()})
        ys.append({k: v.numpy() for k, v in y.items()})
    x = {k: np.concatenate([b[k] for b in xs]) for k in xs[0]}
    y = {k: np.concatenate([b[k] for b in ys]) for k in ys[0]}
    mem = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    return mem.shuffle(len(next(iter(y.values()))), seed=0).batch(batch_size, drop_remainder=True).prefetch(2)


def pipeline_efficiency(spec, repeats, epochs=4):
    """Figure 1 for one spec: ratio of files-fed to memory-fed examples/s."""
    spec = mmkeras.load_spec(spec)
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    bs = spec.training.batch_size
    n = len(splits["train"]) // bs * bs
    memory = in_memory_dataset(mmkeras.make_dataset(spec, splits["train"], pre, training=True, cache="none"), bs)
    model.fit(memory.take(2), epochs=1, verbose=0)  # compile once, outside the timings
    rows = []
    for _ in range(repeats):
        files = mmkeras.make_dataset(spec, splits["train"], pre, training=True, cache="memory")
        t_files, t_mem = _epoch_timer(), _epoch_timer()
        model.fit(files, epochs=epochs, verbose=0, callbacks=[t_files])
        model.fit(memory, epochs=epochs, verbose=0, callbacks=[t_mem])
        mem_rate = n / statistics.median(t_mem.times)
        rows.append({"first_epoch": (n / t_files.times[0]) / mem_rate,
                     "later_epochs": (n / statistics.median(t_files.times[1:])) / mem_rate,
                     "files_ex_per_s_later": n / statistics.median(t_files.times[1:]),
                     "memory_ex_per_s": mem_rate})
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def against_usual_way(spec, repeats, epochs):
    """Figure 2: preprocessing throughput and time to a trained model, both ways."""
    spec = mmkeras.load_spec(spec)
    splits = mmkeras.load_splits(spec)
    train = splits["train"]
    root = spec.data.root
    pre = mmkeras.Preprocessor(spec).adapt(train)

    row = per_core(spec, train, pre, repeats)  # CPU-seconds and wall time per example, both ways

    # End to end: preprocessing + adapt + build + fit for `epochs`, each way.
    start = time.perf_counter()
    arrays = usual_way_arrays(spec, train, root)
    labels = pre.targets[next(iter(spec.outputs))].encode(train[next(iter(spec.outputs.values())).column])
    for name, inp in spec.inputs.items():
        if inp.type == "audio":
            feature = pre.features[name]
            arrays[name] = (arrays[name] - feature.mean) / feature.std
    arrays[PRESENCE] = np.ones([len(train), len(spec.inputs)], np.float32)  # every input present
    model = mmkeras.build_model(spec, pre)
    model.fit(arrays, {next(iter(spec.outputs)): labels}, batch_size=spec.training.batch_size,
              epochs=epochs, verbose=0, shuffle=True)
    usual_total = time.perf_counter() - start

    start = time.perf_counter()
    pre2 = mmkeras.Preprocessor(spec).adapt(train)
    model = mmkeras.build_model(spec, pre2)
    model.fit(mmkeras.make_dataset(spec, train, pre2, training=True), epochs=epochs, verbose=0)
    mm_total = time.perf_counter() - start
    return {**row, "usual_ex_per_s": 1e3 / row["usual_wall_ms"], "mmkeras_ex_per_s": 1e3 / row["mmkeras_wall_ms"],
            "usual_end_to_end_s": usual_total, "mmkeras_end_to_end_s": mm_total, "epochs": epochs}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=2000, help="generated examples (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="epochs for the end-to-end comparison")
    parser.add_argument("--data", choices=["demo", "av_digits", "both"], default="both")
    args = parser.parse_args(argv)
    specs = benchmark_specs(args.examples, args.data)
    results = {}
    for name, spec in specs.items():
        results[name] = {"efficiency": pipeline_efficiency(spec, args.repeats),
                         "usual_way": against_usual_way(spec, args.repeats, args.epochs)}
    common.print_table("1. Pipeline efficiency (files-fed / memory-fed examples/s; goal >= 0.95 from epoch 2)",
                       [{"data": k, **v["efficiency"]} for k, v in results.items()],
                       ["data", "first_epoch", "later_epochs", "files_ex_per_s_later", "memory_ex_per_s"])
    common.print_table("2. Against the usual per-file Python loop: CPU-seconds per example, first uncached epoch "
                       "(goal >= 3x fewer; wall ratio beside it)",
                       [{"data": k, **v["usual_way"]} for k, v in results.items()],
                       ["data", "usual_cpu_ms", "mmkeras_cpu_ms", "cpu_ratio", "wall_ratio",
                        "usual_end_to_end_s", "mmkeras_end_to_end_s", "epochs"])
    path = common.write_result("pipeline", {"args": vars(args), "results": results})
    print(f"\nwritten to {path}")
    return results


if __name__ == "__main__":
    main()
