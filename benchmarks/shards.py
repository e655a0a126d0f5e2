"""TFRecord shards: conversion speed, size on disk, and reading shards versus reading the files.

    python -m benchmarks.shards [--examples 2000] [--shards 8] [--repeats 3] [--quick]

On generated demo data (image + audio + text + numbers + category): `convert_to_shards`
examples/s and MiB per 1000 examples, then one training epoch of the input
pipeline alone (no model) read four ways, median of the repeats:
`make_dataset` from the files (no cache), `shard_dataset` over all shards,
`shard_dataset` over worker 0 of 2 (the part one host of a two-host job
reads), and `shard_dataset` over `--mode raw` shards (file bytes, decoded when
read). The figures are the ratios shards / files in examples/s.
"""

import argparse
import os
import shutil
import tempfile

from benchmarks import common
from benchmarks.datasets import generated_spec

QUICK_ARGS = ["--quick"]
FULL_ARGS = []


def _epoch(ds):
    """Examples in one pass of a dataset of (inputs, targets) batches."""
    n = 0
    for inputs, _ in ds:
        n += int(next(iter(inputs.values())).shape[0])
    return n


def _folder_mib(folder):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
               if f.endswith(".tfrecord")) / 2**20


def measure(spec_dict, shards=8, repeats=3, work=None):
    """Times conversion and one epoch of reading shards vs files; returns a dict of figures.

    Example:

    >>> r = measure(generated_spec(600, image_audio_only=False), shards=4, repeats=1)
    >>> r["shards_vs_files"] > 1
    True
    """
    import mmkeras
    from mmkeras.data.sources.shards.read import shard_dataset
    from mmkeras.data.sources.shards.format import read_index
    from mmkeras.data.sources.shards.write import convert_to_shards

    spec = mmkeras.load_spec(spec_dict)
    work = work or tempfile.mkdtemp(prefix="mmkeras-shards-")
    folder = os.path.join(work, "shards")
    batch = spec.training.batch_size
    convert_s, _ = common.median_time(lambda: convert_to_shards(spec, folder, shards, overwrite=True,
                                                                progress=False), repeats=1)
    raw_folder = os.path.join(work, "raw")
    convert_to_shards(spec, raw_folder, shards, overwrite=True, mode="raw", progress=False)
    index = read_index(folder)
    total = sum(v["count"] for v in index["splits"].values())
    train_n = index["splits"]["train"]["count"]
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    sources = {
        "files": lambda: mmkeras.make_dataset(spec, splits["train"], pre, training=True, cache="none"),
        "shards": lambda: shard_dataset(folder, "train", batch_size=batch, training=True),
        "shards_worker_0_of_2": lambda: shard_dataset(folder, "train", batch_size=batch, training=True,
                                                      num_shards=2, shard_index=0),
        "raw_shards": lambda: shard_dataset(raw_folder, "train", batch_size=batch, training=True, preprocessor=pre),
    }
    rates, counts = {}, {}
    for name, make in sources.items():
        ds = make()
        counts[name] = _epoch(ds)  # warm-up pass: traces the functions
        seconds, _ = common.median_time(lambda: _epoch(ds), repeats=repeats)
        rates[name] = counts[name] / seconds
    result = {
        "examples": total, "train_examples": train_n, "shards": shards, "batch_size": batch,
        "convert_s": convert_s, "convert_ex_per_s": total / convert_s,
        "mib_per_1000": _folder_mib(folder) / total * 1000,
        "files_ex_per_s": rates["files"], "shards_ex_per_s": rates["shards"],
        "worker_ex_per_s": rates["shards_worker_0_of_2"], "worker_examples": counts["shards_worker_0_of_2"],
        "shards_vs_files": rates["shards"] / rates["files"],
        "raw_mib_per_1000": _folder_mib(raw_folder) / total * 1000, "raw_shards_ex_per_s": rates["raw_shards"],
        "raw_vs_files": rates["raw_shards"] / rates["files"],
    }
    shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=2000, help="generated examples (default %(default)s)")
    parser.add_argument("--shards", type=int, default=8, help="files per split (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="300 examples, 1 repeat: checks that it runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.examples, args.repeats, args.shards = 300, 1, 4
    work = tempfile.mkdtemp(prefix="mmkeras-shards-")
    spec = generated_spec(args.examples, work_dir=os.path.join(work, "data"), image_audio_only=False)
    result = measure(spec, shards=args.shards, repeats=args.repeats, work=work)
    common.print_table("TFRecord shards: one epoch of the input pipeline (no model), examples/s",
                       [{"data": f"generated_{args.examples}", **result}],
                       ["data", "convert_ex_per_s", "mib_per_1000", "files_ex_per_s", "shards_ex_per_s",
                        "shards_vs_files", "worker_ex_per_s", "worker_examples", "raw_mib_per_1000",
                        "raw_shards_ex_per_s", "raw_vs_files"])
    path = common.write_result("shards", {"args": vars(args), "results": {f"generated_{args.examples}": result}})
    print(f"\nwritten to {path}")
    return result


if __name__ == "__main__":
    main()
