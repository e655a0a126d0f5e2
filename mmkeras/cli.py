"""The `mmkeras` command: demo, train, evaluate, predict, export."""

import argparse
import os
import sys


def _parser():
    p = argparse.ArgumentParser(prog="mmkeras", description="Multimodal models on Keras 3: "
                                "train from a spec, evaluate, export raw-input SavedModels.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="generate the embedded data set, train, evaluate, export, check the export")
    d.add_argument("--out", default="mmkeras_demo", help="folder for data and run (default: %(default)s)")
    d.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    d.add_argument("--no-singles", action="store_true", help="skip the single-input comparison models")

    t = sub.add_parser("train", help="train a spec and write a run directory")
    t.add_argument("spec", help="spec file (YAML or JSON)")
    t.add_argument("--data", help="table to use instead of the spec's data.path")
    t.add_argument("--root", help="folder that file paths in the table are relative to")
    t.add_argument("--out", required=True, help="run directory to create")
    t.add_argument("--epochs", type=int, help="override training.epochs")
    t.add_argument("--overwrite", action="store_true", help="reuse a non-empty run directory")

    e = sub.add_parser("evaluate", help="metrics of a run on its splits or any table with the spec's columns")
    e.add_argument("run_dir")
    e.add_argument("--data", help="table to evaluate (default: the spec's validation and test splits)")
    e.add_argument("--root", help="folder that file paths in the table are relative to")
    e.add_argument("--out", help="JSON file for the metrics")

    pr = sub.add_parser("predict", help="run an exported SavedModel on a table of raw inputs")
    pr.add_argument("saved_model", help="RUN_DIR/saved_model or another export")
    pr.add_argument("--data", required=True, help="table with the input columns")
    pr.add_argument("--root", help="folder that file paths in the table are relative to")
    pr.add_argument("--out", required=True, help="CSV file for the predictions")

    im = sub.add_parser("importance", help="modality importance of a run: metric drop per input masked as missing")
    im.add_argument("run_dir")
    im.add_argument("--data", help="table to use (default: the spec's test split, else validation)")
    im.add_argument("--root", help="folder that file paths in the table are relative to")
    im.add_argument("--out", help="CSV file for the table (default: RUN_DIR/importance.csv)")

    cv = sub.add_parser("convert", help="write a spec's splits as sharded TFRecord files of model-ready examples")
    cv.add_argument("spec", help="spec file (YAML or JSON)")
    cv.add_argument("--out", required=True, help="shard folder to create (give it as data.path to train from it)")
    cv.add_argument("--shards", type=int, default=8, help="files per split (default: %(default)s)")
    cv.add_argument("--mode", default="preprocessed", choices=("preprocessed", "raw"),
                    help="preprocessed: model-ready tensors (default); raw: file bytes, strings, numbers "
                         "(decoded and augmented when read)")
    cv.add_argument("--data", help="table to use instead of the spec's data.path")
    cv.add_argument("--root", help="folder that file paths in the table are relative to")
    cv.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")

    kf = sub.add_parser("cv", help="stratified k-fold cross-validation of a spec: mean and std of every metric")
    kf.add_argument("spec", help="spec file (YAML or JSON)")
    kf.add_argument("--folds", type=int, default=5, help="number of folds, >= 2 (default: %(default)s)")
    kf.add_argument("--out", help="folder for cv.json (default: cv_<spec name>)")
    kf.add_argument("--epochs", type=int, help="override training.epochs")
    kf.add_argument("--data", help="table to use instead of the spec's data.path")
    kf.add_argument("--root", help="folder that file paths in the table are relative to")
    kf.add_argument("--overwrite", action="store_true", help="replace an existing cv.json in --out")

    x = sub.add_parser("export", help="export a run as a raw-input SavedModel")
    x.add_argument("run_dir")
    x.add_argument("--out", help="export folder (default: RUN_DIR/saved_model)")
    x.add_argument("--overwrite", action="store_true", help="replace an existing export")
    return p


def main(argv=None):
    """Entry point of the `mmkeras` command.

    Example:

    >>> main(["train", "data_specs/demo.yaml", "--out", "runs/demo"])
    """
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from mmkeras.errors import DataError
    from mmkeras.specs import SpecError

    try:
        return _run(args)
    except (SpecError, DataError, FileExistsError, FileNotFoundError, KeyError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"mmkeras {args.command}: error: {message}", file=sys.stderr)
        return 2


def _run(args):
    from mmkeras.runs import lifecycle as runs
    from mmkeras.tasks.outputs.metrics import format_metrics

    if args.command == "demo":
        from mmkeras.demo.run import run_demo

        run_demo(args.out, overwrite=args.overwrite, singles=not args.no_singles)
    elif args.command == "train":
        runs.train_run(args.spec, args.out, data=args.data, root=args.root,
                       overwrite=args.overwrite, epochs=args.epochs)
    elif args.command == "evaluate":
        metrics, path = runs.evaluate_run(args.run_dir, data=args.data, root=args.root, out=args.out)
        if any("retrieval" in groups for groups in metrics.values()):  # a retrieval run: recall@k vs chance
            from mmkeras.tasks.retrieval import format_retrieval

            print("\n".join(format_retrieval(metrics)))
        else:
            print("\n".join(format_metrics(metrics)))
        print(f"metrics written to {path}")
    elif args.command == "predict":
        table = runs.predict_table(args.saved_model, args.data, root=args.root, out=args.out)
        print(f"{len(table)} predictions written to {args.out}")
    elif args.command == "importance":
        from mmkeras.runs.importance import format_importance, importance_run

        table, path = importance_run(args.run_dir, data=args.data, root=args.root, out=args.out)
        print("\n".join(format_importance(table)))
        print(f"importance written to {path}")
    elif args.command == "convert":
        from mmkeras.data.sources.shards.write import convert_to_shards

        if args.shards < 1:
            from mmkeras.errors import DataError

            raise DataError(f"--shards: {args.shards} is not a positive number of files")
        index = convert_to_shards(args.spec, args.out, args.shards, overwrite=args.overwrite, mode=args.mode,
                                  data=args.data, root=args.root)
        counts = ", ".join(f"{k} {v['count']}" for k, v in index["splits"].items())
        print(f"{counts} examples written to {args.out} ({args.shards} shard(s) per split); "
              f"train from it with data.path: {os.path.abspath(args.out)}")
    elif args.command == "cv":
        from mmkeras.runs.cv import cross_validate
        from mmkeras.errors import DataError
        from mmkeras.specs import load_spec

        if args.folds < 2:
            raise DataError(f"--folds: {args.folds} is not an integer >= 2")
        spec = load_spec(args.spec)
        cross_validate(spec, args.folds, out=args.out or f"cv_{spec.name}", epochs=args.epochs,
                       data=args.data, root=args.root, overwrite=args.overwrite)
    elif args.command == "export":
        print(f"exported to {runs.export_run(args.run_dir, args.out, overwrite=args.overwrite)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
