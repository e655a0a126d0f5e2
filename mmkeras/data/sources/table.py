"""Tables as a source: reading a spec's table with pandas, splitting it, and `TableSource`."""

import os

import numpy as np
import pandas as pd
import tensorflow as tf

from mmkeras.data.checks import explain_op_error
from mmkeras.data.columns import as_strings, check_columns, data_root
from mmkeras.data.pipeline import DISK_SHUFFLE_BUFFER, stages
from mmkeras.data.preprocessor import Preprocessor
from mmkeras.data.sources.base import SPLITS, Source
from mmkeras.data.sources.split import check_shared_groups, group_split, group_values
from mmkeras.data.targets import sample_weights
from mmkeras.distribute.cluster import per_replica_batch
from mmkeras.distribute.data_service import service_stage
from mmkeras.distribute.datasets import for_strategy
from mmkeras.errors import DataError, SpecError
from mmkeras.specs import load_spec
from mmkeras.tasks.outputs.heads import HEADS

_READERS = {
    ".csv": pd.read_csv, ".tsv": lambda p, **kw: pd.read_csv(p, **{"sep": "\t", **kw}),
    ".parquet": pd.read_parquet, ".pq": pd.read_parquet,
    ".jsonl": lambda p, **kw: pd.read_json(p, **{"lines": True, **kw}),
    ".json": pd.read_json,
}


def read_table(path, read_options=None):
    """Reads a CSV, TSV, Parquet or JSONL table into a DataFrame.

    Files with another extension are read as CSV (the options can set `sep`).

    Example:

    >>> df = read_table(os.path.join(data_dir, "manifest.csv"))
    >>> len(df) == sum(len(v) for v in splits.values() if v is not None)
    True
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Data table not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    reader = _READERS.get(ext, pd.read_csv)
    options = dict(read_options or {})
    try:
        df = reader(path, **options)
        if reader not in (pd.read_parquet, pd.read_json) and ext != ".jsonl" and not {"header", "names"} & set(options):
            _check_header(reader(path, **{**options, "header": None, "nrows": 1}), path)
        return df
    except DataError:
        raise
    except Exception as e:  # pandas raises many types; say which file and options
        raise DataError(f"Could not read table {path} with options {options}: {e}") from e


def _check_header(first_row, path):
    """A DataError for a table whose header names a column twice (pandas would rename the second one)."""
    names = [str(name) for name in first_row.iloc[0].tolist()] if len(first_row) else []
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise DataError(f"Table {path}: duplicate column name(s) {twice} in the header; name each column once")


def _stratify_column(spec, df):
    for out in spec.outputs.values():
        if HEADS.get(out.type).stratify and out.column in df.columns:
            return as_strings(df[out.column])
    return None


def fraction_split(index, labels, fractions, seed):
    """Splits `index` into len(fractions) parts, stratified by labels, seeded.

    Args:
        index: a numpy array of row positions.
        labels: a same-length array of labels to stratify by, or None.
        fractions: the fraction of each part (summing to at most 1).
        seed: the seed of the permutation.

    Returns:
        A list of sorted index arrays, one per fraction.

    Example:

    >>> [p.tolist() for p in fraction_split(np.arange(10), None, [0.8, 0.2], seed=0)]
    [[0, 2, 3, 4, 5, 6, 7, 9], [1, 8]]
    """
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    groups = [index] if labels is None else [index[labels == v] for v in pd.unique(labels)]
    bounds = np.cumsum(fractions)
    for group in groups:
        group = rng.permutation(group)
        cuts = np.round(bounds * len(group)).astype(int)
        start = 0
        for k, cut in enumerate(cuts):
            parts[k].extend(group[start:cut])
            start = cut
    return [np.sort(np.asarray(p, dtype=index.dtype)) for p in parts]


def _fractions(spec, df, labels, fractions):
    """`fraction_split` of the rows, or `group_split` (whole groups) with `data.split.group`."""
    group = spec.data.split.group
    if group is None:
        return fraction_split(np.arange(len(df)), labels, fractions, spec.training.seed)
    groups = group_values(df[group], group, spec.data.path)
    return group_split(groups, labels, fractions, spec.training.seed, column=group, table=spec.data.path)


def split_table(spec, df):
    """Splits a table by the spec's `data.split`.

    Returns:
        A dict with keys "train", "validation", "test"; a split the spec does
        not ask for is None. Fraction splits are stratified by the first
        classification or binary output and seeded by `training.seed`; with
        `data.split.group` they move whole groups (`group_split`).

    Example:

    >>> splits = split_table(spec, read_table(spec.data.path))
    >>> len(splits["train"]) > 0
    True
    """
    split = spec.data.split
    if split.group is not None:
        check_columns(df, [split.group], spec.data.path)
    labels = _stratify_column(spec, df)
    out = {"train": None, "validation": None, "test": None}
    if split.column is None:
        names = [k for k in ("train", "validation", "test") if isinstance(getattr(split, k), float)]
        parts = _fractions(spec, df, labels, [getattr(split, k) for k in names])
        for name, part in zip(names, parts):
            out[name] = df.iloc[part].reset_index(drop=True)
        return out
    check_columns(df, [split.column], spec.data.path)
    column = as_strings(df[split.column])
    for name in ("train", "validation", "test"):
        value = getattr(split, name)
        if isinstance(value, str):
            out[name] = df[column == value].reset_index(drop=True)
            if len(out[name]) == 0:
                raise DataError(f"No row of {spec.data.path} has {split.column} == {value!r} "
                                f"(the {name} split); values present: {sorted(set(column))[:10]}")
    for name in ("validation", "test"):
        value = getattr(split, name)
        if isinstance(value, float):
            train = out["train"]
            train_labels = None if labels is None else _stratify_column(spec, train)
            keep, carved = _fractions(spec, train, train_labels, [1 - value, value])
            out["train"] = train.iloc[keep].reset_index(drop=True)
            out[name] = train.iloc[carved].reset_index(drop=True)
    if split.group is not None:
        check_shared_groups(out, split.group, spec.data.path)
    return out


def load_splits(spec):
    """Reads the spec's table and splits it; see `split_table`.

    Example:

    >>> {k: len(v) for k, v in load_splits(spec).items()} == {k: len(v) for k, v in splits.items()}
    True
    """
    if spec.data.path is None:
        raise DataError(f"{spec.source or 'spec'}: data.path is not set; give a table")
    return split_table(spec, read_table(spec.data.path, spec.data.read_options))


def has_targets(spec, df):
    """True when `df` has every output column of the spec (then datasets yield targets by default).

    Example:

    >>> has_targets(spec, splits["test"]), has_targets(spec, splits["test"].drop(columns=["label"]))
    (True, False)
    """
    return all(o.column in df.columns for o in spec.outputs.values())


def table_examples(spec, df, preprocessor, *, with_targets=True, root=None, table=""):
    """The rows of a table as single examples `(raw, contexts, targets)`, what `pipeline.stages` takes.

    The raw values are read on the Python side once (`Preprocessor.raw_columns`:
    absolute, checked file paths, strings, floats); targets are encoded, with
    per-example weights when an output has `class_weight: balanced`.

    Args:
        spec: the spec (output columns, class weights).
        df: a DataFrame with the spec's input (and output) columns.
        preprocessor: an adapted `mmkeras.Preprocessor`.
        with_targets: encode the output columns (they must be present); False: targets are `{}`.
        root: folder for relative file paths (default: the spec's data root).
        table: name of the table, used in error messages.

    Example:

    >>> raw, contexts, targets = next(iter(table_examples(spec, splits["test"], pre)))
    >>> sorted(contexts), sorted(targets)
    (['picture', 'sound'], ['label'])
    """
    pre = preprocessor
    if with_targets:
        check_columns(df, [o.column for o in spec.outputs.values()], table)
    raw = pre.raw_columns(df, root=root or data_root(spec), table=table)
    contexts = {n: pre.contexts(df, n, raw[n], table) for n, f in pre.features.items() if f.is_file}
    targets = {}
    if with_targets:
        targets = {n: t.encode(df[spec.outputs[n].column], table) for n, t in pre.targets.items()}
        weights = sample_weights(spec, pre.targets, targets)  # {} unless an output has class_weight: balanced
        if weights:  # carried through every stage with the targets, laid out at the end
            targets = (targets, weights)
    return tf.data.Dataset.from_tensor_slices((raw, contexts, targets))


def make_dataset(spec, df, preprocessor, *, training=False, batch_size=None, shuffle=None,
                 with_targets=None, root=None, table="", cache=None, cache_dir=None, strategy=None):
    """Builds the input pipeline for one table: `table_examples` through `pipeline.stages`.

    Files are read and decoded per example with parallel `map`, batched
    (static batch size in training: the last partial batch is dropped),
    then vectorised per-batch work (token lookup, audio features,
    standardisation, augmentation in training) runs in a second parallel
    `map`, and batches are prefetched.

    Without a cache the (small) table rows are shuffled before any file is
    read, so memory stays flat however large the table. With
    `cache="memory"` or `"disk"`, what the first epoch computed is kept: the
    model-ready examples when nothing is random, the decoded examples when
    training augments them, the file bytes when decoding itself is random
    (random crops); later epochs redo only the random part. With
    `training.data_service`, a training pipeline's reading and decoding run
    on the tf.data service (`mmkeras.distribute.data_service`).

    Args:
        spec: the spec (batch size, seed, cache, columns); None for the preprocessor's.
        df: a DataFrame with the spec's input (and output) columns.
        preprocessor: an adapted `mmkeras.Preprocessor`.
        training: shuffle every epoch, enable augmentation, drop the last partial batch.
        batch_size: default `spec.training.batch_size`.
        shuffle: default `training`.
        with_targets: yield `(inputs, targets)`; default: when the table has
            every output column.
        root: folder for relative file paths (default: the spec's data root).
        table: name of the table, used in error messages.
        cache: "none", "memory" or "disk"; default `spec.training.cache`.
        cache_dir: folder for the disk cache (default: a new temporary folder).
        strategy: a `tf.distribute.Strategy` the dataset is for: batches stay
            global (`batch_size` must split evenly over its replicas) and
            rows are sharded across workers (`mmkeras.distribute.for_strategy`);
            `model.fit` splits each batch over the replicas.

    Returns:
        A `tf.data.Dataset` of `(inputs, targets)` dicts (or `inputs` only);
        `(inputs, targets, sample_weights)` when an output has
        `class_weight: balanced` (weights from `targets.sample_weights`).
        `inputs["_presence"]` is float32 `[batch, n_inputs]` (spec input
        order): 0 where the row's value is missing (empty path or string, NaN).

    Example:

    >>> train_ds = mmkeras.make_dataset(spec, splits["train"], pre, training=True)
    >>> inputs, targets = next(iter(mmkeras.make_dataset(spec, splits["test"], pre, batch_size=4)))
    >>> inputs["_presence"].shape
    TensorShape([4, 5])
    """
    if not preprocessor.adapted:
        raise ValueError("The preprocessor is not adapted; call Preprocessor(spec).adapt(train_df) first.")
    spec = preprocessor.spec if spec is None else spec
    batch_size = batch_size or spec.training.batch_size
    shuffle = training if shuffle is None else shuffle
    cache = cache or spec.training.cache
    with_targets = has_targets(spec, df) if with_targets is None else with_targets
    examples = table_examples(spec, df, preprocessor, with_targets=with_targets, root=root, table=table)
    buffer = min(len(df), DISK_SHUFFLE_BUFFER) if cache == "disk" else len(df)
    service = None
    if training and spec.training.data_service:
        if cache != "none":
            raise SpecError(f"{spec.source or spec.name}: training.data_service decodes the training examples on "
                            f"the service; it takes no cache (training.cache: {cache!r})")
        service = service_stage(spec.training.data_service)
    if strategy is not None:
        per_replica_batch(batch_size, strategy.num_replicas_in_sync)  # a SpecError when it does not split evenly
    ds = stages(examples, preprocessor, batch_size=batch_size, training=training,
                drop_remainder=training and len(df) >= batch_size, shuffle_buffer=buffer if shuffle else 0,
                seed=spec.training.seed, cache=cache, cache_dir=cache_dir, with_targets=with_targets,
                deterministic=spec.training.deterministic or not shuffle, service=service)
    return for_strategy(ds, strategy)


class TableSource(Source):
    """A spec's table (CSV, TSV, Parquet, JSONL) of rows whose file columns name files under `root`.

    Args:
        spec: a loaded Spec.
        splits: None reads and splits the spec's table (`load_splits`); a
            dict {"train"/"validation"/"test": DataFrame or None} uses those
            rows instead (cross-validation folds, single-input demo models).

    Example:

    >>> source = TableSource(spec, {"train": splits["train"], "test": splits["test"]})
    >>> source.split_names
    ['train', 'test']
    >>> source.sizes()["test"] == len(splits["test"])
    True
    """

    def __init__(self, spec, splits=None):
        self.spec = load_spec(spec)
        splits = load_splits(self.spec) if splits is None else dict(splits)
        unknown = [k for k in splits if k not in SPLITS]
        if unknown:
            raise ValueError(f"splits: {unknown} are not among {list(SPLITS)}")
        self.splits = {k: splits[k] for k in SPLITS if splits.get(k) is not None}
        self.split_names = list(self.splits)

    def sizes(self):
        """{split: rows} of every present split.

        Example:

        >>> TableSource(spec, {"train": splits["train"][:10]}).sizes()
        {'train': 10}
        """
        return {k: len(v) for k, v in self.splits.items()}

    def preprocessor(self):
        """A new Preprocessor adapted on the train split (each call adapts again).

        Example:

        >>> TableSource(spec, splits).preprocessor().adapted
        True
        """
        self.check_split("train")
        return Preprocessor(self.spec).adapt(self.splits["train"], root=self.root)

    def dataset(self, split, preprocessor, *, training=False, with_targets=True, batch_size=None):
        """A split through `make_dataset`: shuffled, augmented and of static batches in training.

        Example:

        >>> ds = TableSource(spec, splits).dataset("test", pre, batch_size=4)
        >>> inputs, targets = next(iter(ds))
        >>> int(inputs["_presence"].shape[0]), sorted(targets)
        (4, ['label'])
        """
        self.check_split(split)
        return make_dataset(self.spec, self.splits[split], preprocessor, training=training,
                            with_targets=with_targets, batch_size=batch_size, root=self.root,
                            table=f"{split} split")

    def table(self, split):
        """The rows of a split (a DataFrame).

        Example:

        >>> TableSource(spec, splits).table("test").equals(splits["test"])
        True
        """
        self.check_split(split)
        return self.splits[split]

    @property
    def root(self):
        """The spec's data root (`data_root`).

        Example:

        >>> TableSource(spec, splits).root == data_dir
        True
        """
        return data_root(self.spec)

    def explain(self, error, preprocessor):
        """A DataError naming row, column and file: from the assertion text, or by decoding each split's files.

        Example:

        >>> error = tf.errors.InvalidArgumentError(None, None, "Graph execution error: bad PNG")
        >>> print(TableSource(spec, {"test": splits["test"]}).explain(error, pre))
        The input pipeline failed: bad PNG
        """
        tables = [(f"{k} split", v) for k, v in self.splits.items()]
        return explain_op_error(error, preprocessor, tables, root=self.root)
