"""The `mmkeras` command: demo, train, evaluate, predict, importance, convert, cv, export, data-service,
tfds build, report, describe, validate.

A user error (a bad spec, bad data, a run directory that exists or is
missing, a bad argument) is one line `mmkeras <command>: error: ...` on
stderr and exit status 2; anything else is a bug and keeps its traceback.
`mmkeras --debug <command>` also prints TensorFlow's raw text of a data error.
"""

import argparse
import errno
import os
import sys

from mmkeras.data.sources.shards.write import convert_to_shards
from mmkeras.data.sources.tfds.build import VERSION, build_tfds_dataset, write_tfds_spec
from mmkeras.demo.run import run_demo
from mmkeras.distribute.cluster import STRATEGIES
from mmkeras.distribute.data_service import serve
from mmkeras.data.validate import bad_rows_frame, format_bad_rows, validate_spec
from mmkeras.errors import DataError, ExportError, SpecError
from mmkeras.progress import quiet
from mmkeras.reports.describe import PLOT_FILE, describe_spec
from mmkeras.reports.headline import format_headline
from mmkeras.reports.html import write_cv_report
from mmkeras.reports.text import format_importance, format_metrics, format_retrieval
from mmkeras.runs.cv import cross_validate
from mmkeras.runs.exports import FORMATS, NOTE, export_format
from mmkeras.runs.importance import importance_run
from mmkeras.runs.lifecycle import evaluate_run, export_run, train_run
from mmkeras.runs.predict import predict_table
from mmkeras.runs.reporting import report_run
from mmkeras.specs import load_spec

# What a user can get wrong; everything else is a bug and shows its traceback.
USER_ERRORS = (SpecError, DataError, ExportError, FileExistsError, FileNotFoundError)


class UsageError(Exception):
    """A bad command line; `main` prints it as one line and returns 2."""

    def __init__(self, prog, message):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) raised as `UsageError`."""

    def error(self, message):
        raise UsageError(self.prog, message)


def _int_at_least(minimum, what):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    return parse


def _strategy_option(parser):
    parser.add_argument("--strategy", choices=STRATEGIES, help="tf.distribute strategy (overrides "
                        "training.strategy; auto: multi_worker with a TF_CONFIG of several tasks, tpu when found, "
                        "mirrored with several GPUs, else default)")


def _add_data_service_command(sub):
    ds = sub.add_parser("data-service", help="run a tf.data service dispatcher or worker (training.data_service)")
    role = ds.add_subparsers(dest="role", required=True, parser_class=_Parser)
    dispatcher = role.add_parser("dispatcher", help="start a dispatcher; serves until killed")
    dispatcher.add_argument("--port", type=_int_at_least(0, "a port number"), default=5050,
                            help="port to listen on, 0 for a free one (default: %(default)s)")
    dispatcher.add_argument("--work-dir", help="journal folder: a restarted dispatcher resumes its jobs")
    worker = role.add_parser("worker", help="start a worker that decodes for a dispatcher; serves until killed")
    worker.add_argument("--dispatcher", required=True, help="the dispatcher's HOST:PORT")
    worker.add_argument("--port", type=_int_at_least(0, "a port number"), default=0,
                        help="port to listen on (default: a free one)")


def _add_tfds_command(sub):
    t = sub.add_parser("tfds", help="TensorFlow Datasets: write a spec's table and files as a TFDS dataset")
    actions = t.add_subparsers(dest="tfds_command", required=True, parser_class=_Parser)
    b = actions.add_parser("build", help="write a spec's splits as the versioned TFDS dataset DIR/NAME/VERSION "
                                         "(tfds.load(NAME, data_dir=DIR) reads it, without mmkeras)")
    b.add_argument("spec", help="spec file (YAML or JSON) with a table")
    b.add_argument("--data-dir", required=True, help="TFDS data folder to write into")
    b.add_argument("--name", help="dataset name: lowercase letters, digits, underscores (default: the spec's name)")
    b.add_argument("--version", default=VERSION, help="dataset version (default: %(default)s)")
    b.add_argument("--shards", type=_int_at_least(1, "a positive number of files"),
                   help="files per split (default: TFDS's choice; one per worker at least for multi-worker reads)")
    b.add_argument("--spec-out", help="also write a spec (YAML) that trains from the TFDS dataset")
    _table_options(b, "table to use instead of the spec's data.path")
    b.add_argument("--overwrite", action="store_true", help="replace an existing NAME/VERSION (and --spec-out)")
    b.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")


def _table_options(parser, what):
    parser.add_argument("--data", help=what)
    parser.add_argument("--root", help="folder that file paths in the table are relative to")


def _parser():
    p = _Parser(prog="mmkeras", description="Multimodal models on Keras 3: "
                "train from a spec, evaluate, export raw-input SavedModels.")
    p.add_argument("--debug", action="store_true", help="with a data error, also print TensorFlow's own text "
                   "(node names, stack frames)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_training_commands(sub)
    _add_run_commands(sub)
    _add_spec_commands(sub)
    _add_data_service_command(sub)
    _add_tfds_command(sub)
    _add_inspect_commands(sub)
    x = sub.add_parser("export", help="export a run as a raw-input SavedModel, or its tensor-input model as "
                       "ONNX or LiteRT")
    x.add_argument("run_dir")
    x.add_argument("--format", default="saved_model", choices=("saved_model",) + tuple(FORMATS),
                   help="saved_model (raw inputs, default); onnx or litert: the Keras model on preprocessed "
                        "tensors, checked in onnxruntime / the TFLite interpreter")
    x.add_argument("--out", help="export folder (default: RUN_DIR/saved_model, RUN_DIR/onnx, RUN_DIR/litert)")
    x.add_argument("--overwrite", action="store_true", help="replace an existing export")
    for command in sub.choices.values():
        command.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _add_inspect_commands(sub):
    r = sub.add_parser("report", help="draw a run's plots and write its one-page HTML report")
    r.add_argument("run_dir")
    r.add_argument("--out", help="HTML file (default: RUN_DIR/report.html)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    de = sub.add_parser("describe", help="a spec resolved with its defaults, inputs' shapes, the model summary")
    de.add_argument("spec", help="spec file (YAML or JSON)")
    _table_options(de, "table to use instead of the spec's data.path")
    de.add_argument("--out", default=".", help=f"folder for {PLOT_FILE} (default: the current folder)")
    de.add_argument("--overwrite", action="store_true", help=f"replace an existing {PLOT_FILE}")

    va = sub.add_parser("validate", help="check every row of a spec's table before training; exit 1 on bad rows")
    va.add_argument("spec", help="spec file (YAML or JSON)")
    _table_options(va, "table to check instead of the spec's data.path")
    va.add_argument("--out", help="CSV file for the bad rows (e.g. bad_rows.csv)")
    va.add_argument("--no-decode", action="store_true", help="do not decode the files (faster; they must exist)")


def _add_training_commands(sub):
    d = sub.add_parser("demo", help="generate the embedded data set, train, evaluate, export, check the export")
    d.add_argument("--out", default="mmkeras_demo", help="folder for data and run (default: %(default)s)")
    d.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    d.add_argument("--no-singles", action="store_true", help="skip the single-input comparison models")
    d.add_argument("--source", default="table", choices=("table", "tfds"),
                   help="table: train from the CSV and files (default); tfds: build them as a TFDS dataset "
                        "first and train, evaluate and serve from it")

    t = sub.add_parser("train", help="train a spec and write a run directory")
    t.add_argument("spec", help="spec file (YAML or JSON)")
    _table_options(t, "table to use instead of the spec's data.path")
    t.add_argument("--out", required=True, help="run directory to create")
    t.add_argument("--epochs", type=_int_at_least(1, "a positive number of epochs"), help="override training.epochs")
    t.add_argument("--tensorboard", action="store_true", help="log to RUN_DIR/tensorboard/ (training.tensorboard)")
    again = t.add_mutually_exclusive_group()
    again.add_argument("--overwrite", action="store_true", help="reuse a non-empty run directory")
    again.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint "
                       "(same spec), or start it when --out is new or empty")
    _strategy_option(t)


def _add_run_commands(sub):
    def run_dir_command(name, what, data, out):
        parser = sub.add_parser(name, help=what)
        parser.add_argument("run_dir")
        _table_options(parser, data)
        parser.add_argument("--out", help=out)

    run_dir_command("evaluate", "metrics of a run on its splits or any table with the spec's columns",
                    "table to evaluate (default: the spec's validation and test splits)", "JSON file for the metrics")

    pr = sub.add_parser("predict", help="run an exported SavedModel on a table of raw inputs")
    pr.add_argument("saved_model", help="RUN_DIR/saved_model or another export")
    pr.add_argument("--data", required=True, help="table with the input columns")
    pr.add_argument("--root", help="folder that file paths in the table are relative to")
    pr.add_argument("--out", required=True, help="CSV file for the predictions")
    pr.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                    help="a row whose file is missing or does not decode: raise (default) stops with its row, column "
                         "and file; skip predicts the other rows and lists it in OUT.bad_rows.csv")

    run_dir_command("importance", "modality importance of a run: metric drop per input masked as missing",
                    "table to use (default: the spec's test split, else validation)",
                    "CSV file for the table (default: RUN_DIR/importance.csv)")


def _add_spec_commands(sub):
    cv = sub.add_parser("convert", help="write a spec's splits as sharded TFRecord files of model-ready examples")
    cv.add_argument("spec", help="spec file (YAML or JSON)")
    cv.add_argument("--out", required=True, help="shard folder to create (give it as data.path to train from it)")
    cv.add_argument("--shards", type=_int_at_least(1, "a positive number of files"), default=8,
                    help="files per split (default: %(default)s)")
    cv.add_argument("--mode", default="preprocessed", choices=("preprocessed", "raw"),
                    help="preprocessed: model-ready tensors (default); raw: file bytes, strings, numbers "
                         "(decoded and augmented when read)")
    _table_options(cv, "table to use instead of the spec's data.path")
    cv.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")

    kf = sub.add_parser("cv", help="stratified k-fold cross-validation of a spec: mean and std of every metric")
    kf.add_argument("spec", help="spec file (YAML or JSON)")
    kf.add_argument("--folds", type=_int_at_least(2, "an integer >= 2"), default=5,
                    help="number of folds, >= 2 (default: %(default)s)")
    kf.add_argument("--group-by", metavar="COLUMN",
                    help="leave-groups-out folds: every group (speaker, patient) of COLUMN is held out whole; "
                         "--folds equal to the number of groups is leave-one-group-out (default: data.split.group)")
    kf.add_argument("--out", help="folder for cv.json (default: cv_<spec name>)")
    kf.add_argument("--epochs", type=_int_at_least(1, "a positive number of epochs"), help="override training.epochs")
    _table_options(kf, "table to use instead of the spec's data.path")
    kf.add_argument("--overwrite", action="store_true", help="replace an existing cv.json in --out")
    _strategy_option(kf)


def main(argv=None):
    """Entry point of the `mmkeras` command; returns the exit status.

    Args:
        argv: the arguments after `mmkeras` (default: `sys.argv[1:]`).

    Returns:
        0 on success, 1 when `validate` found bad rows, 2 for a user error (printed as one line on stderr).

    Example:

    >>> main(["export", os.path.join(tmp_dir, "not_a_run")])
    2
    """
    try:
        args = _parser().parse_args(argv)
    except UsageError as e:
        print(f"{e.prog}: error: {e}", file=sys.stderr)
        return 2
    try:
        with quiet(args.quiet):
            status = COMMANDS[args.command](args)
    except USER_ERRORS + (OSError,) as e:
        if isinstance(e, OSError) and not isinstance(e, USER_ERRORS) and e.errno != errno.ENOSPC:
            raise  # another OSError is a bug (or the machine's): keep its traceback
        print(f"mmkeras {args.command}: error: {e}", file=sys.stderr)
        if args.debug and getattr(e, "debug", None):
            print(f"TensorFlow's text (--debug):\n{e.debug}", file=sys.stderr)
        return 2
    return status or 0


def _demo(args):
    run_demo(args.out, overwrite=args.overwrite, singles=not args.no_singles, source=args.source)


def _train(args):
    train_run(args.spec, args.out, data=args.data, root=args.root, overwrite=args.overwrite, epochs=args.epochs,
              strategy=args.strategy, resume=args.resume, tensorboard=args.tensorboard or None)


def _evaluate(args):
    metrics, path = evaluate_run(args.run_dir, data=args.data, root=args.root, out=args.out)
    if any("retrieval" in groups for groups in metrics.values()):  # a retrieval run: recall@k vs chance
        print("\n".join(format_retrieval(metrics)))
    else:
        print("\n".join(format_metrics(metrics)))
    print(f"metrics written to {path}")
    print("\n".join(format_headline(metrics)))
    try:
        print(f"report: {os.path.abspath(report_run(args.run_dir))}")
    except USER_ERRORS as e:  # the metrics are written; the report could not be redrawn
        print(f"report not redrawn: {e}")


def _predict(args):
    table = predict_table(args.saved_model, args.data, root=args.root, out=args.out, on_error=args.on_error)
    bad = table.attrs.get("bad_rows", [])
    print(f"{len(table) - len(bad)} predictions written to {args.out}")
    if bad:
        print(f"{len(bad)} bad rows (no prediction), listed in {args.out}.bad_rows.csv:")
        print("\n".join(format_bad_rows(bad)))


def _importance(args):
    table, path = importance_run(args.run_dir, data=args.data, root=args.root, out=args.out)
    print("\n".join(format_importance(table)))
    print(f"importance written to {path}")


def _convert(args):
    index = convert_to_shards(args.spec, args.out, args.shards, overwrite=args.overwrite, mode=args.mode,
                              data=args.data, root=args.root, progress=not args.quiet)
    counts = ", ".join(f"{k} {v['count']}" for k, v in index["splits"].items())
    print(f"{counts} examples written to {args.out} ({args.shards} shard(s) per split); "
          f"train from it with data.path: {os.path.abspath(args.out)}")


def _tfds(args):
    spec = load_spec(args.spec)
    if args.data is not None or args.root is not None:
        spec = spec.with_data(path=args.data, root=args.root)
    built = build_tfds_dataset(spec, args.data_dir, name=args.name, version=args.version, shards=args.shards,
                               overwrite=args.overwrite, verbose=not args.quiet)
    counts = ", ".join(f"{k} {v}" for k, v in built["splits"].items())
    data_dir = os.path.abspath(args.data_dir)
    print(f"{counts} examples written as the TFDS dataset {built['name']}:{built['version']} in {built['path']}; "
          f"read it with tfds.load({built['name']!r}, data_dir={data_dir!r})")
    if args.spec_out:
        write_tfds_spec(spec, built["name"], data_dir, args.spec_out, overwrite=args.overwrite)
        print(f"train from it with: mmkeras train {args.spec_out} --out RUN_DIR")


def _cv(args):
    spec = load_spec(args.spec)
    result = cross_validate(spec, args.folds, group_by=args.group_by, out=args.out or f"cv_{spec.name}",
                            epochs=args.epochs, data=args.data, root=args.root, overwrite=args.overwrite,
                            strategy=args.strategy)
    if result["path"]:
        print(f"report: {os.path.abspath(write_cv_report(os.path.dirname(result['path']), result))}")


def _data_service(args):
    serve(args.role, port=args.port, dispatcher=getattr(args, "dispatcher", None),
          work_dir=getattr(args, "work_dir", None), say=lambda line: print(line, flush=True))


def _export(args):
    if args.format == "saved_model":
        print(f"exported to {export_run(args.run_dir, args.out, overwrite=args.overwrite)}")
        return
    path, info = export_format(args.run_dir, args.format, args.out, overwrite=args.overwrite)
    check = info["check"]
    print(f"exported to {os.path.join(path, info['file'])}")
    print(f"checked in {check['runtime']} on the {check['data']}: max |difference| from Keras "
          f"{max(check['max_abs_difference'].values()):.3g} (tolerance {check['tolerance']:g})")
    print(NOTE)


def _report(args):
    print(f"report: {os.path.abspath(report_run(args.run_dir, args.out, overwrite=args.overwrite))}")


def _describe(args):
    lines = describe_spec(args.spec, data=args.data, root=args.root, plot_to=os.path.join(args.out, PLOT_FILE),
                          overwrite=args.overwrite)
    print("\n".join(lines))


def _validate(args):
    bad = validate_spec(args.spec, data=args.data, root=args.root, decode=not args.no_decode)
    if args.out:
        bad_rows_frame(bad).to_csv(args.out, index=False)
    if not bad:
        print("every row is good")
        return 0
    print(f"{len(bad)} bad rows")
    print("\n".join(format_bad_rows(bad)))
    if args.out:
        print(f"bad rows written to {args.out}")
    return 1


COMMANDS = {"demo": _demo, "train": _train, "evaluate": _evaluate, "predict": _predict,
            "importance": _importance, "convert": _convert, "cv": _cv, "tfds": _tfds, "export": _export,
            "data-service": _data_service, "report": _report, "describe": _describe, "validate": _validate}


if __name__ == "__main__":
    sys.exit(main())
