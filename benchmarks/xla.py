"""Figure 4: train-step time with `jit_compile` on versus off, per fusion type.

    python -m benchmarks.xla [--examples 600] [--steps 30] [--repeats 3]

Each model is fed the same preprocessed batches from memory, so only the
train step is timed. On CPU the goal is "never slower with XLA"; run it on
the GPU machine too when one is lent.
"""

import argparse
import statistics
import time

import mmkeras
from benchmarks import common
from benchmarks.datasets import generated_spec
from benchmarks.pipeline import in_memory_dataset
from mmkeras.fusion.registry import FUSIONS


def compiled_model(spec_dict, jit):
    """(spec, model, in-memory repeated training batches) with `jit_compile` set, already compiled by 3 steps."""
    spec = mmkeras.load_spec({**spec_dict, "training": {**spec_dict["training"], "jit_compile": jit}})
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    memory = in_memory_dataset(mmkeras.make_dataset(spec, splits["train"], pre, training=True),
                               spec.training.batch_size).repeat()
    model.fit(memory, steps_per_epoch=3, epochs=1, verbose=0)  # compile outside the timings
    return spec, model, memory


def step_time(spec_dict, jit, steps, repeats):
    _, model, memory = compiled_model(spec_dict, jit)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(memory, steps_per_epoch=steps, epochs=1, verbose=0)
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times), model.jit_compile


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=600)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fusions", nargs="*", help="fusion types (default: every registered one)")
    args = parser.parse_args(argv)
    base = generated_spec(args.examples, image_audio_only=False)
    rows = []
    for fusion in args.fusions or FUSIONS.names():
        spec = {**base, "fusion": {"type": fusion, "hidden_units": [64]}}
        on, really_on = step_time(spec, True, args.steps, args.repeats)
        off, _ = step_time(spec, False, args.steps, args.repeats)
        rows.append({"fusion": fusion, "xla_ms": on * 1e3, "no_xla_ms": off * 1e3,
                     "speedup": off / on, "xla_really_on": really_on})
    device = "GPU" if common.machine()["gpus"] else "CPU"
    common.print_table(f"4. Train step with XLA on vs off ({device}; goal: never slower)", rows,
                       ["fusion", "xla_ms", "no_xla_ms", "speedup", "xla_really_on"])
    path = common.write_result(f"xla_{device.lower()}", {"args": vars(args), "results": rows})
    print(f"\nwritten to {path}")
    return rows


if __name__ == "__main__":
    main()
