"""`mmkeras demo`: the main job on the embedded data set, end to end, with a short report."""

import copy
import os
import time

import numpy as np

from mmkeras.data.columns import as_strings
from mmkeras.data.sources import TableSource, TfdsSource, source_for
from mmkeras.data.sources.tfds import build_tfds_dataset, tfds_spec_dict
from mmkeras.demo import data as datasets
from mmkeras.export.serving import serve_in_subprocess
from mmkeras.runs.lifecycle import evaluate_splits, train_model, train_run
from mmkeras.runs.predict import serving_inputs
from mmkeras.runs.run_dir import load_run
from mmkeras.specs import load_spec


def single_input_spec(spec_dict, name):
    """A copy of a spec dict that keeps only input `name` (fusion unchanged).

    Example:

    >>> single_input_spec({"name": "demo", "inputs": {"a": {}, "b": {}}}, "b")
    {'name': 'demo_b_only', 'inputs': {'b': {}}}
    """
    single = copy.deepcopy(spec_dict)
    single["inputs"] = {name: single["inputs"][name]}
    single["name"] = f"{spec_dict['name']}_{name}_only"
    return single


def raw_batch(spec, df, root):
    """Raw serving inputs for the rows of `df`: file bytes, strings, floats (video: `read_clips`).

    Args:
        spec: the Spec (its inputs' types and columns).
        df: the rows.
        root: folder of relative file paths.

    Returns:
        `{input: numpy array}`, what the export's `serving_default` takes.

    Example:

    >>> batch = raw_batch(spec, splits["test"].head(2), data_dir)
    >>> sorted(batch) == sorted(spec.inputs), batch["picture"][0][:4]
    (True, b'\\x89PNG')
    """
    inputs = {name: {"type": inp.type, "column": inp.column} for name, inp in spec.inputs.items()}
    return serving_inputs(inputs, df, root)


def demo_test_batch(source):
    """(raw serving inputs, labels) of a demo source's test split: the table's files, or the TFDS examples' bytes.

    Example:

    >>> inputs, labels = demo_test_batch(source_for(spec))
    >>> inputs["picture"][0][:4], len(labels) == len(splits["test"])
    (b'\x89PNG', True)
    """
    if isinstance(source, TfdsSource):
        inputs, outputs = source.serving_batch("test")
        return inputs, as_strings(outputs["label"])
    test = source.table("test")
    return raw_batch(source.spec, test, source.root), as_strings(test["label"])


def prepare_demo_data(out_dir, num_examples=960, *, overwrite=False, source="table", say=print):
    """Generates the demo data in `OUT/data` (and, for `source="tfds"`, builds it as `OUT/tfds/demo`); its spec dict.

    Args:
        out_dir: the demo's folder.
        num_examples: size of the generated data set.
        overwrite: replace the data (and the TFDS dataset).
        source: "table" (the spec reads the CSV) or "tfds" (it reads the TFDS dataset built from it).
        say: print function for the progress lines.

    Example:

    >>> spec_dict = prepare_demo_data(tmp_dir, 24, source="tfds", say=lambda line: None)
    >>> spec_dict["data"]["tfds"]["name"], sorted(os.listdir(os.path.join(tmp_dir, "tfds", "demo")))
    ('demo', ['1.0.0'])
    """
    manifest = datasets.make_demo_data(os.path.join(out_dir, "data"), num_examples=num_examples,
                                       seed=0, overwrite=overwrite)
    spec_dict = datasets.demo_spec_dict(manifest)
    say(f"[1/4] generated {num_examples} examples (PNG, WAV, text, numbers, categories) in {os.path.dirname(manifest)}")
    if source == "tfds":
        tfds_dir = os.path.join(out_dir, "tfds")
        built = build_tfds_dataset(spec_dict, tfds_dir, name="demo", overwrite=overwrite, verbose=False)
        say(f"      and built them as the TFDS dataset demo:{built['version']} in {tfds_dir}; training reads TFDS")
        spec_dict = tfds_spec_dict(spec_dict, "demo", tfds_dir)
    elif source != "table":
        raise ValueError(f"source must be 'table' or 'tfds', got {source!r}")
    return spec_dict


def run_demo(out_dir="mmkeras_demo", *, num_examples=960, overwrite=False, singles=True, verbose=True,
             epochs=None, source="table"):
    """Generates the demo data, trains, evaluates, exports, checks the export; returns a report dict.

    The fused model is a run directory (`train_run`) in `OUT/run`; each
    single-input model (`singles`) is trained with `train_model` on the same
    train split and scored on the test split; the export is then served on
    raw test files in a Python process that never imports mmkeras.

    Args:
        out_dir: folder for the data (`OUT/data`) and the run (`OUT/run`).
        num_examples: size of the generated data set.
        overwrite: replace an existing `out_dir`.
        singles: also train one model per input.
        verbose: print progress and the report.
        epochs: override the demo spec's 12 epochs.
        source: "table" (the CSV and files) or "tfds": the data built as a
            TFDS dataset first (`mmkeras.data.sources.tfds`), then trained,
            evaluated and served from it.

    Returns:
        A dict: `fused_accuracy`, `single_accuracy` ({input: accuracy}),
        `export_max_abs_diff`, `export_accuracy`, `seconds`, `run_dir`.

    Example:

    >>> report = run_demo(os.path.join(tmp_dir, "demo"), num_examples=64, singles=False, verbose=False, epochs=1)
    >>> report["export_max_abs_diff"] < 1e-4, report["single_accuracy"]
    (True, {})
    """
    say = print if verbose else (lambda *a, **k: None)
    start = time.time()
    if os.path.exists(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f"{out_dir} exists and is not empty; pass --overwrite or another --out.")
    spec_dict = prepare_demo_data(out_dir, num_examples, overwrite=overwrite, source=source, say=say)

    say("[2/4] training the fused model")
    run_dir = os.path.join(out_dir, "run")
    metrics = train_run(spec_dict, run_dir, overwrite=overwrite, epochs=epochs, verbose=verbose)
    fused = metrics["test"]["label"]["accuracy"]

    single = {}
    if singles:
        say("[3/4] training one model per input, for comparison")
        data = source_for(load_spec(spec_dict))
        for name in data.spec.inputs:
            s = load_spec(single_input_spec(spec_dict, name))
            only = TfdsSource(s) if isinstance(data, TfdsSource) else \
                TableSource(s, {"train": data.table("train"), "test": data.table("test")})
            trained = train_model(s, only, epochs=epochs, verbose=False)
            single[name] = evaluate_splits(trained, ("test",))["test"]["label"]["accuracy"]
            say(f"  {name} only: test accuracy {single[name]:.3f}")

    say("[4/4] reloading the SavedModel in a process without mmkeras")
    spec, pre, model = load_run(run_dir)
    data = source_for(spec)
    inputs, labels = demo_test_batch(data)
    served = serve_in_subprocess(os.path.join(run_dir, "saved_model"), inputs)
    in_memory = model.predict(data.dataset("test", pre, with_targets=False), verbose=0)["label"]
    gap = float(np.abs(served["label_probabilities"] - in_memory).max())
    served_acc = float(np.mean([l.decode() if isinstance(l, bytes) else l for l in served["label_label"]] == labels))

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
