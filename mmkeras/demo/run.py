"""`mmkeras demo`: the main job on the embedded data set, end to end, with a short report."""

import copy
import os
import time

import numpy as np

from mmkeras.demo import data as datasets
from mmkeras.builders import build_model
from mmkeras.data import Preprocessor, load_splits, make_dataset
from mmkeras.data.sources.table import as_strings
from mmkeras.tasks.outputs.metrics import evaluate_model
from mmkeras.export.saved_model import serve_in_subprocess
from mmkeras.runs.lifecycle import load_run, train_run
from mmkeras.specs import load_spec
from mmkeras.training import fit


def single_input_spec(spec_dict, name):
    """A copy of a spec dict that keeps only input `name` (fusion unchanged)."""
    single = copy.deepcopy(spec_dict)
    single["inputs"] = {name: single["inputs"][name]}
    single["name"] = f"{spec_dict['name']}_{name}_only"
    return single


def raw_batch(spec, df, root):
    """Raw serving inputs for the rows of `df`: file bytes, strings, floats (video: `read_clips`)."""
    batch = {}
    for name, inp in spec.inputs.items():
        if inp.type == "video":
            from mmkeras.data.video import read_clips

            batch[name] = read_clips(df[inp.column], root=root, column_name=inp.column)
        elif inp.is_file:
            paths = [os.path.join(root, p) for p in as_strings(df[inp.column])]
            batch[name] = np.array([open(p, "rb").read() for p in paths], dtype=object)
        elif inp.type == "numeric":
            batch[name] = df[inp.column].to_numpy(np.float32)
        else:
            batch[name] = as_strings(df[inp.column])
    return batch


def run_demo(out_dir="mmkeras_demo", *, num_examples=960, overwrite=False, singles=True, verbose=True):
    """Generates the demo data, trains, evaluates, exports, checks the export; returns a report dict.

    Example:

    >>> report = run_demo("mmkeras_demo")
    >>> report["fused_accuracy"] > max(report["single_accuracy"].values())
    True
    """
    say = print if verbose else (lambda *a, **k: None)
    start = time.time()
    if os.path.exists(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f"{out_dir} exists and is not empty; pass --overwrite or another --out.")
    manifest = datasets.make_demo_data(os.path.join(out_dir, "data"), num_examples=num_examples,
                                       seed=0, overwrite=overwrite)
    spec_dict = datasets.demo_spec_dict(manifest)
    say(f"[1/4] generated {num_examples} examples (PNG, WAV, text, numbers, categories) in {os.path.dirname(manifest)}")

    say("[2/4] training the fused model")
    run_dir = os.path.join(out_dir, "run")
    metrics = train_run(spec_dict, run_dir, overwrite=overwrite, verbose=verbose)
    fused = metrics["test"]["label"]["accuracy"]

    single = {}
    if singles:
        say("[3/4] training one model per input, for comparison")
        spec = load_spec(spec_dict)
        splits = load_splits(spec)
        for name in spec.inputs:
            s = load_spec(single_input_spec(spec_dict, name))
            pre = Preprocessor(s).adapt(splits["train"])
            model = build_model(s, pre)
            fit(model, s, make_dataset(s, splits["train"], pre, training=True),
                verbose=False)
            single[name] = evaluate_model(model, pre, splits["test"])["label"]["accuracy"]
            say(f"  {name} only: test accuracy {single[name]:.3f}")

    say("[4/4] reloading the SavedModel in a process without mmkeras")
    spec, pre, model = load_run(run_dir)
    test = load_splits(spec)["test"]
    served = serve_in_subprocess(os.path.join(run_dir, "saved_model"),
                                 raw_batch(spec, test, spec.data.root))
    in_memory = model.predict(make_dataset(spec, test, pre, with_targets=False), verbose=0)["label"]
    gap = float(np.abs(served["label_probabilities"] - in_memory).max())
    served_acc = float(np.mean([l.decode() if isinstance(l, bytes) else l for l in served["label_label"]]
                               == as_strings(test["label"])))

    report = {"fused_accuracy": fused, "single_accuracy": single, "export_max_abs_diff": gap,
              "export_accuracy": served_acc, "seconds": time.time() - start, "run_dir": run_dir}
    say("")
    say("mmkeras demo report")
    say(f"  {'model':<22} test accuracy")
    say(f"  {'all inputs fused':<22} {fused:.3f}")
    for name, acc in single.items():
        say(f"  {name + ' only':<22} {acc:.3f}")
    say(f"  SavedModel on raw bytes (no mmkeras import): accuracy {served_acc:.3f}, "
        f"max |served - in-memory| = {gap:.2e}")
    say(f"  run directory: {run_dir}  ({report['seconds']:.0f} s)")
    return report
