"""Cross-modal retrieval on OpenMoji: picture <-> name with a contrastive dual encoder.

    python -m benchmarks.retrieval [--quick] [--epochs N] [--spec data_specs/openmoji_retrieval.yaml]

Trains `data_specs/openmoji_retrieval.yaml` (each tower: the input's encoder,
a projection to a shared 64-d embedding, L2 normalisation; symmetric InfoNCE
with a learnable temperature, XLA on) as a full run directory, then reports
recall@1/5/10 in both directions and the median rank on the test split,
which makes a 90-way retrieval, against the chance level (k / n: every name
in the split is distinct). The test split is embedded again through the
exported SavedModel's `embed_picture` / `embed_name` signatures (raw bytes
and strings): the largest difference to the in-memory towers and the recall
from the export are reported too (near-ties may swap a rank: the in-memory
predict runs under XLA). Skips cleanly when ../shared/data is
absent. `--quick`: 3 epochs (checks that it runs; the recall is near chance).
"""

import argparse
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

import mmkeras
from benchmarks import common
from mmkeras.runs import load_run, train_run
from mmkeras.tasks.retrieval import embed_table, retrieval_metrics, top_k

QUICK_ARGS = ["--quick"]
FULL_ARGS = []
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SPEC = os.path.join(REPO, "data_specs", "openmoji_retrieval.yaml")


def export_recall(saved_model, spec, df, pre, ks=(1, 5, 10)):
    """Recall@k and median rank both ways from the export's signatures, on raw bytes and strings."""
    export = tf.saved_model.load(saved_model)
    raw = pre.raw_columns(df)
    embeddings = {}
    for name in spec.task.pair:
        values = raw[name]
        if spec.inputs[name].is_file:
            values = np.array([open(p, "rb").read() for p in values], dtype=object)
        fn = export.signatures[f"embed_{name}"]
        embeddings[name] = np.concatenate([fn(**{name: tf.constant(values[i:i + 64])})["embedding"].numpy()
                                           for i in range(0, len(values), 64)])
    return retrieval_metrics(embeddings, {n: raw[n] for n in spec.task.pair}, ks=ks), embeddings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 epochs: checks that it runs")
    parser.add_argument("--epochs", type=int, help="default: the spec's, 3 with --quick")
    parser.add_argument("--spec", default=DEFAULT_SPEC, help="a retrieval spec (default: %(default)s)")
    parser.add_argument("--out", help="run directory to keep (default: a temporary folder)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    spec = mmkeras.load_spec(args.spec)
    if not os.path.isfile(spec.data.path):
        print(f"retrieval: skipped ({spec.data.path} is absent)")
        return {"skipped": "openmoji absent"}
    epochs = args.epochs or (3 if args.quick else spec.training.epochs)
    with tempfile.TemporaryDirectory(prefix="mmkeras-retrieval-") as tmp:
        run_dir = args.out or os.path.join(tmp, "run")
        start = time.perf_counter()
        metrics = train_run(spec, run_dir, epochs=epochs, overwrite=True, verbose=args.verbose)
        seconds = time.perf_counter() - start
        _, pre, model = load_run(run_dir)
        test = mmkeras.load_splits(spec)["test"]
        served, embeddings = export_recall(os.path.join(run_dir, "saved_model"), spec, test, pre)
        memory = embed_table(model, pre, test)
    export_diff = max(float(np.abs(memory[n] - embeddings[n]).max()) for n in spec.task.pair)
    a, b = spec.task.pair
    in_run = metrics["test"]["retrieval"]
    rows = []
    for query, index in ((a, b), (b, a)):
        prefix = f"{query}_to_{index}"
        row = {"direction": f"{query} -> {index}"}
        for k in (1, 5, 10):
            row[f"R@{k}"] = in_run[f"{prefix}_recall@{k}"]
            row[f"chance@{k}"] = in_run[f"{prefix}_chance@{k}"]
        row["median_rank"] = in_run[f"{prefix}_median_rank"]
        row["of"] = in_run["count"]
        row["export_R@10"] = served[f"{prefix}_recall@10"]
        rows.append(row)
    common.print_table(f"Retrieval on OpenMoji test ({served['count']}-way), {epochs} epochs, "
                       f"temperature {in_run['temperature']:.3f}", rows,
                       ["direction", "R@1", "chance@1", "R@5", "chance@5", "R@10", "chance@10", "median_rank", "of",
                        "export_R@10"])
    print(f"  export (embed_* signatures on raw bytes/strings) vs in-memory towers: max |diff| {export_diff:.2g}")
    # A query example through top_k: the 3 names nearest to the first test picture.
    names = pre.raw_columns(test)[b]
    top, _ = top_k(embeddings[a][0], embeddings[b], k=3)
    print(f"\n  top-3 names for the picture of {names[0]!r}: {[names[i] for i in top]}")
    payload = {"args": vars(args), "epochs": epochs, "train_seconds": seconds, "spec": spec.to_dict(),
               "results": rows, "validation": metrics.get("validation", {}).get("retrieval"), "test": in_run,
               "test_from_export": served, "export_max_abs_diff": export_diff,
               "command": "python -m benchmarks.retrieval" + (" --quick" if args.quick else "")}
    path = common.write_result("retrieval_quick" if args.quick else "retrieval", payload)
    print(f"\nwritten to {path}")
    return rows


if __name__ == "__main__":
    main()
