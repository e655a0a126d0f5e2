"""Figure 4: the default `jit_compile` against XLA on and off: train-step time per fusion type.

    python -m benchmarks.xla [--examples 600] [--steps 30] [--repeats 3] [--fusions ...]

Each fusion's model is compiled three ways from the same spec: `jit_compile:
true`, `false`, and the key left out (the default, `auto`: XLA off on a
CPU-only host, on with a GPU/TPU, see `mmkeras.jit`). All three are fed the
same preprocessed batches from memory, so only the train step is timed; they
are timed in turns (each model's repeat r before any model's repeat r + 1),
medians over the repeats. Goal: the default's step time <= 1.05x the faster
of on and off, per fusion. XLA's own speedup (off / on) and whether XLA
was really on when asked are reported beside it.
"""

import argparse
import statistics
import time

import mmkeras
from benchmarks import common
from benchmarks.datasets import generated_spec
from benchmarks.pipeline import in_memory_dataset
from mmkeras.fusion.registry import FUSIONS

GOAL = 1.05
MODES = {"on": True, "off": False, "default": None}


def compiled_model(spec_dict, jit):
    """(spec, model, in-memory repeated training batches) with `jit_compile` set (None: left to the default),
    already compiled by 3 steps."""
    training = {**spec_dict["training"], "jit_compile": jit}
    if jit is None:
        training.pop("jit_compile")
    spec = mmkeras.load_spec({**spec_dict, "training": training})
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    memory = in_memory_dataset(mmkeras.make_dataset(spec, splits["train"], pre, training=True),
                               spec.training.batch_size).repeat()
    model.fit(memory, steps_per_epoch=3, epochs=1, verbose=0)  # compile outside the timings
    return spec, model, memory


def _time_steps(model, memory, steps):
    start = time.perf_counter()
    model.fit(memory, steps_per_epoch=steps, epochs=1, verbose=0)
    return (time.perf_counter() - start) / steps


def step_time(spec_dict, jit, steps, repeats):
    """Median train-step seconds of one mode, and whether the model really used XLA."""
    _, model, memory = compiled_model(spec_dict, jit)
    return statistics.median(_time_steps(model, memory, steps) for _ in range(repeats)), model.jit_compile


def step_times(spec_dict, steps, repeats, modes=MODES):
    """{mode: median step s} for XLA on, off and the default, timed in turns; with what XLA really did."""
    built = {name: compiled_model(spec_dict, jit)[1:] for name, jit in modes.items()}
    times = {name: [] for name in modes}
    for _ in range(repeats):
        for name, (model, memory) in built.items():
            times[name].append(_time_steps(model, memory, steps))
    out = {name: statistics.median(t) for name, t in times.items()}
    out["jit"] = {name: bool(model.jit_compile) for name, (model, _) in built.items()}
    return out


def row(fusion, t):
    """Figure 4's row for one fusion from `step_times`."""
    best = min(t["on"], t["off"])
    return {"fusion": fusion, "xla_ms": t["on"] * 1e3, "no_xla_ms": t["off"] * 1e3, "default_ms": t["default"] * 1e3,
            "default_xla": "on" if t["jit"]["default"] else "off", "default_vs_best": t["default"] / best,
            "speedup": t["off"] / t["on"], "xla_really_on": t["jit"]["on"],
            "goal_met": t["default"] / best <= GOAL and t["jit"]["on"]}


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
        rows.append(row(fusion, step_times(spec, args.steps, args.repeats)))
        print(f"  {fusion}: default ({rows[-1]['default_xla']}) {rows[-1]['default_vs_best']:.2f}x the faster mode",
              flush=True)
    device = "GPU" if common.machine()["gpus"] else "CPU"
    common.print_table(f"4. Train step: the default jit_compile vs XLA on / off ({device}; goal: default <= "
                       f"{GOAL:g}x the faster)", rows,
                       ["fusion", "xla_ms", "no_xla_ms", "default_ms", "default_xla", "default_vs_best", "speedup",
                        "xla_really_on"])
    path = common.write_result(f"xla_{device.lower()}", {"args": vars(args), "goal": GOAL, "results": rows})
    print(f"\nwritten to {path}")
    return rows


if __name__ == "__main__":
    main()
