"""The run directory: what `train_run` writes and `load_run` reads back.

```
RUN_DIR/
  spec.json        the resolved spec
  preprocessor/    the adapted preprocessor
  model.keras      the trained model
  history.csv      per-epoch logs
  metrics.json     {split: {output: {metric: value}}}
  importance.csv   modality importance (outputs with a held-out split)
  saved_model/     the raw-input export
```
"""

import os

import keras
import pandas as pd

from mmkeras.data.preprocessor import Preprocessor
from mmkeras.data.sources import TableSource, source_for
from mmkeras.data.sources.shards.format import is_shard_folder
from mmkeras.data.sources.table import read_table
from mmkeras.files import write_atomically, write_file, write_json
from mmkeras.specs import load_spec

SPEC_FILE = "spec.json"
MODEL_FILE = "model.keras"
PREPROCESSOR_DIR = "preprocessor"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
SAVED_MODEL_DIR = "saved_model"


def save_trained(run_dir, spec, preprocessor, model, history):
    """Writes `spec.json`, `preprocessor/`, `model.keras` and `history.csv` of a trained model into `run_dir`.

    Each is written whole beside its place and renamed into it
    (`mmkeras.files`), so a run killed at any moment leaves the old file
    or the new one.

    Args:
        run_dir: an existing (claimed) run directory.
        spec: the Spec the model was trained with.
        preprocessor: its adapted Preprocessor.
        model: the trained model.
        history: the `keras.callbacks.History` of its fit.

    Example:

    >>> history = keras.callbacks.History()
    >>> history.history = {"loss": [2.0, 1.5]}
    >>> save_trained(tmp_dir, spec, pre, model, history)
    >>> sorted(os.listdir(tmp_dir))
    ['history.csv', 'model.keras', 'preprocessor', 'spec.json']
    """
    write_json(os.path.join(run_dir, SPEC_FILE), spec.to_dict())
    write_atomically(os.path.join(run_dir, PREPROCESSOR_DIR), preprocessor.save, overwrite=True)
    write_file(os.path.join(run_dir, MODEL_FILE), model.save)
    table = pd.DataFrame(history.history).rename_axis("epoch")
    write_file(os.path.join(run_dir, HISTORY_FILE), table.to_csv)


def load_run(run_dir):
    """(spec, preprocessor, model) of a run directory written by `train_run`.

    Args:
        run_dir: the run directory.

    Returns:
        The resolved Spec, the adapted Preprocessor and the trained Keras model.

    Raises:
        FileNotFoundError: `run_dir` lacks `spec.json`, `model.keras` or `preprocessor/`.

    Example:

    >>> spec, pre, model = load_run(run_dir)
    >>> list(model.output_names)
    ['label']
    """
    for name in (SPEC_FILE, MODEL_FILE, PREPROCESSOR_DIR):
        if not os.path.exists(os.path.join(run_dir, name)):
            raise FileNotFoundError(f"{run_dir} is not a run directory: {name} is missing")
    spec = load_spec(os.path.join(run_dir, SPEC_FILE))
    pre = Preprocessor.load(os.path.join(run_dir, PREPROCESSOR_DIR), spec=spec)
    model = keras.saving.load_model(os.path.join(run_dir, MODEL_FILE), safe_mode=True)  # no lambdas: untrusted
    return spec, pre, model


def held_out_data(spec, run_dir, *, data=None, root=None, splits=("validation", "test"), name="evaluation",
                  ext=".json"):
    """What a finished run is evaluated (or explained) on, and where the result goes by default.

    * no `data`: the spec's own data (file root `root` when given); the
      splits among `splits` it has; `RUN_DIR/<name><ext>`.
    * `data` a shard folder (`mmkeras convert`): its splits among `splits`;
      `RUN_DIR/<name>_<folder name><ext>`.
    * `data` a table: the whole table, one entry keyed by its file name
      without extension; `RUN_DIR/<name>_<that stem><ext>`.

    Args:
        spec: the run's Spec.
        run_dir: the run directory.
        data, root: another table or shard folder / file root.
        splits: the splits wanted, in order.
        name, ext: the default output file's name and extension.

    Returns:
        (source, [(key in the result, split of the source)], default output path).

    Example:

    >>> source, items, path = held_out_data(spec, run_dir)
    >>> items, os.path.basename(path)
    ([('validation', 'validation'), ('test', 'test')], 'evaluation.json')
    """
    if data is None:
        source = source_for(spec.with_data(root=root) if root is not None else spec)
        items = [(split, split) for split in splits if split in source.split_names]
        return source, items, os.path.join(run_dir, name + ext)
    spec = spec.with_data(path=data, root=root)
    if is_shard_folder(data):
        source = source_for(spec)
        items = [(split, split) for split in splits if split in source.split_names]
        return source, items, os.path.join(run_dir, f"{name}_{os.path.basename(os.path.normpath(data))}{ext}")
    stem = os.path.splitext(os.path.basename(data))[0]
    source = TableSource(spec, {"test": read_table(spec.data.path, spec.data.read_options)})
    return source, [(stem, "test")], os.path.join(run_dir, f"{name}_{stem}{ext}")
