"""Figure 2, per core: CPU-seconds per example of the mmkeras pipeline against the usual per-file Python loop.

    python -m benchmarks.cpu_cost [--examples 2000] [--repeats 3] [--data demo|av_digits|both] [--no-stages]

The same files and features both ways: the train split's image and audio
files turned into model-ready arrays by a Python loop (Pillow, soundfile,
librosa log-mel; `usual_way_arrays`) and by one first,
uncached pass of `mmkeras.make_dataset` (`cache: none`, so every file is
read, decoded and transformed). The cost is the CPU time of this process
(user + system, every thread, `resource.getrusage`) divided by the
examples, so it does not depend on how many cores the machine has; wall
time per example is given beside it. Building the `tf.data` pipeline
(tracing its functions, once per dataset) is reported on its own line,
not per example. Goal: >= 3x fewer CPU-seconds per example than the loop.

numpy's BLAS threads busy-wait while they wait for work: with its default
threads the loop's CPU time grows several-fold on a busy machine (measured
here: 15 ms vs 2.6 ms per av_digits example). The judged loop therefore runs
with BLAS limited to one thread (threadpoolctl), its cheapest setting; the
default-threads figure is printed beside it.

With stages on, each per-example stage of both ways is timed alone
(`stage_costs`): reading the files, decoding PNG and WAV, pad/crop, the
per-batch STFT + mel + dB + standardisation, and the loop's Pillow,
soundfile and librosa calls.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mmkeras  # noqa: E402
from benchmarks import common  # noqa: E402
from benchmarks.datasets import av_digits_spec, generated_spec  # noqa: E402
from benchmarks.xplane import cpu_seconds  # noqa: E402
from mmkeras.data.presence import decode_or_zeros  # noqa: E402
from mmkeras.data.sources.table import as_strings  # noqa: E402

GOAL = 3.0
STAGE_BATCH = 64


def cost(fn, examples, repeats=3):
    """{"cpu_ms", "wall_ms"} per example of `fn()` (medians over `repeats` calls), and the raw pairs.

    Example:

    >>> cost(lambda: sum(range(10000)), 10, repeats=1)["cpu_ms"] >= 0
    True
    """
    pairs = []
    for _ in range(repeats):
        cpu, wall = cpu_seconds(), time.perf_counter()
        fn()
        pairs.append(((cpu_seconds() - cpu) / examples * 1e3, (time.perf_counter() - wall) / examples * 1e3))
    return {"cpu_ms": statistics.median(p[0] for p in pairs), "wall_ms": statistics.median(p[1] for p in pairs),
            "runs": pairs}


def one_blas_thread(fn):
    """`fn` run with numpy's BLAS (and OpenMP) pools limited to one thread."""
    from threadpoolctl import threadpool_limits  # deferred: only the loop's baseline needs it

    def limited():
        with threadpool_limits(limits=1):
            return fn()
    return limited


def usual_way_arrays(spec, df, root):
    """Files -> arrays with a per-file Python loop (Pillow, soundfile, librosa): the usual way figure 2 compares with."""
    import librosa  # deferred: the loop's own libraries, imported as its users would
    import soundfile
    from PIL import Image

    arrays = {}
    for name, inp in spec.inputs.items():
        paths = [os.path.join(root, p) for p in as_strings(df[inp.column])]
        if inp.type == "image":
            mode = "L" if inp.channels == 1 else "RGB"
            imgs = []
            for p in paths:
                img = Image.open(p).convert(mode).resize((inp.width, inp.height), Image.BILINEAR)
                a = np.asarray(img, np.float32) / 255.0
                imgs.append(a[..., None] if inp.channels == 1 else a)
            arrays[name] = np.stack(imgs)
        elif inp.type == "audio":
            feats = []
            for p in paths:
                y, sr = soundfile.read(p, dtype="float32", always_2d=True)
                y = y.mean(axis=1)[: inp.num_samples]
                y = np.pad(y, (0, inp.num_samples - len(y)))
                mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=inp.resolved_n_fft,
                                                     hop_length=inp.resolved_hop_length, n_mels=inp.n_mels,
                                                     fmin=inp.fmin, fmax=inp.fmax)
                feats.append(librosa.power_to_db(mel, top_db=inp.top_db).T)
            arrays[name] = np.stack(feats).astype(np.float32)
        else:
            raise ValueError(f"the usual-way baseline covers image and audio inputs, not {inp.type}")
    return arrays


def usual_loop_cost(spec, train, repeats=3):
    """The per-file loop's cost per example: BLAS on one thread (judged) and with its default threads."""
    loop = lambda: usual_way_arrays(spec, train, spec.data.root)  # noqa: E731
    usual_way_arrays(spec, train.head(4), spec.data.root)  # warm-up: imports, filterbank caches
    return {"one_thread": cost(one_blas_thread(loop), len(train), repeats),
            "default_threads": cost(loop, len(train), repeats)}


def pipeline_cost(spec, train, pre, repeats=3):
    """mmkeras' first, uncached epoch per example (a new `make_dataset` each repeat), and building it.

    Example:

    >>> r = pipeline_cost(spec, splits["train"], pre, repeats=1)
    >>> sorted(r)
    ['build_cpu_s', 'cpu_ms', 'runs', 'wall_ms']
    """
    builds, passes = [], []
    for _ in range(repeats):
        cpu = cpu_seconds()
        ds = mmkeras.make_dataset(spec, train, pre, training=False, cache="none")
        builds.append(cpu_seconds() - cpu)
        passes.append(cost(lambda ds=ds: [None for _ in ds], len(train), 1)["runs"][0])
    return {"cpu_ms": statistics.median(p[0] for p in passes), "wall_ms": statistics.median(p[1] for p in passes),
            "build_cpu_s": statistics.median(builds), "runs": passes}


def per_core(spec, train, pre, repeats=3):
    """Figure 2's row for one data set: CPU ms per example both ways, their ratio and the wall ratio.

    Example:

    >>> row = per_core(spec, splits["train"], pre, repeats=1)
    >>> row["cpu_ratio"] > 0 and row["goal_met"] in (True, False)
    True
    """
    usual = usual_loop_cost(spec, train, repeats)
    ours = pipeline_cost(spec, train, pre, repeats)
    judged = usual["one_thread"]
    return {"examples": len(train), "usual_cpu_ms": judged["cpu_ms"], "mmkeras_cpu_ms": ours["cpu_ms"],
            "cpu_ratio": judged["cpu_ms"] / ours["cpu_ms"], "usual_wall_ms": judged["wall_ms"],
            "mmkeras_wall_ms": ours["wall_ms"], "wall_ratio": judged["wall_ms"] / ours["wall_ms"],
            "usual_cpu_ms_default_blas": usual["default_threads"]["cpu_ms"],
            "usual_wall_ms_default_blas": usual["default_threads"]["wall_ms"],
            "mmkeras_build_cpu_s": ours["build_cpu_s"], "goal": GOAL, "goal_met": judged["cpu_ms"] / ours["cpu_ms"] >= GOAL}


def _batched_pass(ds):
    """A function that runs one pass of `ds` batched (so Python's per-element iteration is not what is timed)."""
    ds = ds.batch(STAGE_BATCH).prefetch(2)
    for _ in ds.take(1):  # build the iterator's functions outside the timing
        pass
    return lambda: [None for _ in ds]


def _mmkeras_stages(spec, train, pre):
    root = spec.data.root
    paths = {k: [os.path.join(root, p) for p in as_strings(train[i.column])]
             for k, i in spec.inputs.items() if pre.features[k].is_file}
    slices = tf.data.Dataset.from_tensor_slices(paths)
    par = {"num_parallel_calls": tf.data.AUTOTUNE}
    stages = {"slices (paths only)": slices,
              "read files": slices.map(lambda p: {k: tf.io.read_file(v) for k, v in p.items()}, **par)}
    for name, path in paths.items():
        feature = pre.features[name]
        one = tf.data.Dataset.from_tensor_slices(path)
        raw_decode = ((lambda b: tf.io.decode_image(b, expand_animations=False, dtype=tf.float32)[:1, :1, :1])
                      if feature.spec.type == "image" else (lambda b: tf.audio.decode_wav(b)[0][:1]))
        kind = "PNG" if feature.spec.type == "image" else "WAV"
        stages[f"{name}: read + decode {kind} alone (TF decoder op)"] = one.map(
            lambda p, f=raw_decode: f(tf.io.read_file(p)), **par)
        stages[f"{name}: read + decode as shipped (checks, channels/pad-crop, resize)"] = one.map(
            lambda p, f=feature: f.decode(f.read(p)), **par)
        stages[f"{name}: read + decode_or_zeros as shipped (+ missing-input guard)"] = one.map(
            lambda p, f=feature: decode_or_zeros(f, f.read(p)), **par)
    return stages


def stage_costs(spec, train, pre, repeats=3):
    """Each per-example stage of both ways timed alone: rows of {side, stage, cpu_us, wall_us} per example.

    Example:

    >>> rows = stage_costs(spec, splits["train"], pre, repeats=1)
    >>> rows[0]["stage"]
    'slices (paths only)'
    """
    n = len(train)
    rows = []
    for stage, ds in _mmkeras_stages(spec, train, pre).items():
        c = cost(_batched_pass(ds), n, repeats)
        rows.append({"side": "mmkeras (tf.data, batched by 64)", "stage": stage, "cpu_us": c["cpu_ms"] * 1e3,
                     "wall_us": c["wall_ms"] * 1e3})
    for name, feature in pre.features.items():
        if feature.is_file and hasattr(feature, "frontend"):
            decoded = tf.data.Dataset.from_tensor_slices(tf.zeros([n, *feature.decoded_shape])).batch(STAGE_BATCH)
            fn = _batched_pass(decoded.unbatch().batch(STAGE_BATCH).map(feature.transform).unbatch())
            c = cost(fn, n, repeats)
            rows.append({"side": "mmkeras (tf.data, batched by 64)",
                         "stage": f"{name}: STFT + mel + dB + standardise, per batch", "cpu_us": c["cpu_ms"] * 1e3,
                         "wall_us": c["wall_ms"] * 1e3})
    ours = pipeline_cost(spec, train, pre, repeats)
    rows.append({"side": "mmkeras (tf.data, batched by 64)", "stage": "whole pipeline, first uncached pass",
                 "cpu_us": ours["cpu_ms"] * 1e3, "wall_us": ours["wall_ms"] * 1e3})
    rows += _loop_stages(spec, train, repeats)
    return rows


def _loop_stages(spec, train, repeats):
    import librosa  # deferred: the loop's libraries, as the usual way imports them
    import soundfile
    from PIL import Image

    n, rows = len(train), []
    for name, inp in spec.inputs.items():
        paths = [os.path.join(spec.data.root, p) for p in as_strings(train[inp.column])]
        if inp.type == "image":
            mode = "L" if inp.channels == 1 else "RGB"
            def pillow(paths=paths, inp=inp, mode=mode):
                size = (inp.width, inp.height)
                return [np.asarray(Image.open(p).convert(mode).resize(size, Image.BILINEAR), np.float32) / 255.0
                        for p in paths]
            rows.append(("Pillow open + convert + resize", name, pillow))
        elif inp.type == "audio":
            def read(paths=paths, inp=inp):
                out = []
                for p in paths:
                    y, sr = soundfile.read(p, dtype="float32", always_2d=True)
                    y = y.mean(axis=1)[: inp.num_samples]
                    out.append((np.pad(y, (0, inp.num_samples - len(y))), sr))
                return out
            waves = read()

            def features(waves=waves, inp=inp):
                return [librosa.power_to_db(librosa.feature.melspectrogram(
                    y=y, sr=sr, n_fft=inp.resolved_n_fft, hop_length=inp.resolved_hop_length, n_mels=inp.n_mels,
                    fmin=inp.fmin, fmax=inp.fmax), top_db=inp.top_db) for y, sr in waves]
            features()
            rows += [("soundfile read + mono + pad/crop", name, read), ("librosa log-mel (STFT + mel + dB)", name, features)]
    out = []
    for stage, name, fn in rows:
        c = cost(one_blas_thread(fn), n, repeats)
        out.append({"side": "usual loop (BLAS 1 thread)", "stage": f"{name}: {stage}", "cpu_us": c["cpu_ms"] * 1e3,
                    "wall_us": c["wall_ms"] * 1e3})
    return out



def benchmark_specs(examples, data):
    """{name: spec} of the data sets figure 2 measures: generated demo data and/or av_digits (when present)."""
    specs = {}
    if data in ("demo", "both"):
        specs[f"generated_{examples}"] = generated_spec(examples)
    if data in ("av_digits", "both"):
        av = av_digits_spec()
        if av is None:
            print("../shared/data/av_digits is absent: skipping it")
        else:
            specs["av_digits"] = av
    return specs

def main(argv=None):
    """Figure 2 per core for the demo data and av_digits; writes results/cpu_cost.json.

    Example:

    >>> main(["--examples", "300", "--repeats", "1", "--data", "demo", "--no-stages"])  # doctest: +ELLIPSIS
    {...}
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=2000, help="generated examples (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", choices=["demo", "av_digits", "both"], default="both")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage profile")
    args = parser.parse_args(argv)
    specs = benchmark_specs(args.examples, args.data)
    results = {}
    for name, spec in specs.items():
        spec = mmkeras.load_spec(spec)
        train = mmkeras.load_splits(spec)["train"]
        pre = mmkeras.Preprocessor(spec).adapt(train)
        results[name] = {"per_core": per_core(spec, train, pre, args.repeats)}
        if not args.no_stages:
            results[name]["stages"] = stage_costs(spec, train, pre, args.repeats)
            common.print_table(f"Stages, {name} (per example)", results[name]["stages"],
                               ["side", "stage", "cpu_us", "wall_us"])
    common.print_table(f"2. CPU-seconds per example, first uncached epoch (goal: >= {GOAL:g}x fewer than the loop)",
                       [{"data": k, **v["per_core"]} for k, v in results.items()],
                       ["data", "examples", "usual_cpu_ms", "mmkeras_cpu_ms", "cpu_ratio", "usual_wall_ms",
                        "mmkeras_wall_ms", "wall_ratio", "usual_cpu_ms_default_blas", "mmkeras_build_cpu_s"])
    path = common.write_result("cpu_cost", {"args": vars(args), "goal": GOAL, "results": results})
    print(f"\nwritten to {path}")
    return results


if __name__ == "__main__":
    main()
