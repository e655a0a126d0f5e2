"""Frozen dataclasses describing a validated spec.

Every field that a user may write in a spec file is a dataclass field here
or, for the inputs, in `mmkeras.specs.inputs` (whose classes this module
re-exports). Field metadata (`mmkeras.specs.fields.option`) drives
validation in `loader.py`.
"""

import dataclasses
import os
import re
from typing import Any, Mapping, Optional, Tuple, Union

from mmkeras.specs.fields import REQUIRED, option
from mmkeras.specs.inputs import (  # noqa: F401  (re-exported: the input classes are part of the schema)
    INPUT_CLASSES, INPUT_TYPES, AudioAugmentSpec, AudioInputSpec, BooleanInputSpec, CategoricalInputSpec,
    EncoderSpec, ImageAugmentSpec, ImageInputSpec, InputSpec, MultiHotInputSpec, NumericInputSpec,
    TextInputSpec, VideoInputSpec,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SplitSpec:
    """How the table is split: a column's values, or seeded stratified fractions (of whole groups with `group`).

    Example:

    >>> spec.data.split.column, spec.data.split.train, spec.data.split.test
    ('split', 'train', 'test')
    """

    column: Optional[str] = option(None, doc="column holding the split of each row")
    train: Union[str, float] = option("train", doc="value in `column`, or a fraction")
    validation: Union[str, float, None] = option(None, doc="value in `column`, or a fraction (carved out of train when `column` is set)")
    test: Union[str, float, None] = option(None, doc="value in `column`, or a fraction")
    group: Optional[str] = option(None, doc="column naming each row's group (speaker, patient): every group's rows "
                                            "stay in one split, so fraction splits test on unseen groups")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TfdsSplitSpec:
    """Which TFDS splits train, validate and test (TFDS slicing syntax: 'train[:90%]', 'train[90%:]')."""

    train: str = option("train", doc="TFDS split of the training examples")
    validation: Union[str, float, None] = option(
        None, doc="a TFDS split, or a fraction carved out of train (stratified by the first class output, seeded)")
    test: Optional[str] = option(None, doc="TFDS split of the test examples")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TfdsSpec:
    """A TensorFlow Datasets dataset as the examples (instead of a table): `data: {tfds: {...}}`."""

    name: str = option(REQUIRED, doc="the TFDS dataset: NAME or NAME/CONFIG, optionally :VERSION (mnist:3.*.*)")
    data_dir: Optional[str] = option(None, doc="folder of prepared TFDS datasets, relative to the spec file "
                                               "(default: TFDS's, $TFDS_DATA_DIR or ~/tensorflow_datasets)")
    split: TfdsSplitSpec = dataclasses.field(default_factory=TfdsSplitSpec)
    download: bool = option(False, doc="download and prepare a missing dataset (network); false: a missing "
                                       "dataset is an error saying how to prepare it")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataSpec:
    """The table (`path`), where its relative file paths start (`root`) and how it is split.

    Example:

    >>> os.path.basename(spec.data.path), spec.data.root == data_dir
    ('manifest.csv', True)
    """

    path: Optional[str] = option(None, doc="table file (CSV, TSV, Parquet, JSONL), relative to the spec file")
    root: Optional[str] = option(None, doc="base folder for file paths in the table (default: the table's folder)")
    read_options: Mapping[str, Any] = option({}, doc="keyword arguments passed to the pandas reader")
    split: SplitSpec = dataclasses.field(default_factory=SplitSpec)
    on_error: str = option("raise", choices=("raise", "skip"),
                           doc="a bad row (unreadable file, bad value) found by the check before training: raise "
                               "stops the run; skip drops it, lists it in RUN_DIR/bad_rows.csv and counts it")
    allow_outside_root: bool = option(False, doc="accept file paths outside data.root (../.., absolute paths, "
                                                 "symlinks pointing out); false: such a row is bad")
    tfds: Optional[TfdsSpec] = option(None, doc="a TensorFlow Datasets dataset instead of a table (path, root, "
                                                "read_options and split unset)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FusionSpec:
    """How the encoded inputs are joined: a registered fusion `type`, the MLP after it and its own options.

    Example:

    >>> spec.fusion.type, spec.fusion.hidden_units, dict(spec.fusion.options)
    ('concat', (16,), {})
    """

    type: str = option("concat", doc="registered fusion name")
    hidden_units: Tuple[int, ...] = option((128,), doc="sizes of the dense layers after fusion")
    dropout: float = option(0.0, minimum=0, doc="dropout rate after each hidden layer")
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class OutputSpec:
    """One output (`outputs.<name>`): its type (a registered head), target column and options.

    Example:

    >>> spec.outputs["label"].type, spec.outputs["label"].column
    ('classification', 'label')
    """

    name: str
    type: str = option(REQUIRED, doc="task of this output: a registered head (classification, binary, "
                                     "multilabel, regression)")
    column: str = option(REQUIRED, doc="table column with the target")
    positive: Optional[str] = option(None, doc="binary only: the positive class value")
    loss_weight: float = option(1.0, minimum=0, doc="weight of this output's loss in the total (multi-task)")
    class_weight: str = option("none", choices=("none", "balanced"),
                               doc="balanced: weigh examples by n / (k * count of their class) from train "
                                   "(multilabel: per label, positives and negatives)")
    separator: str = option(",", doc="multilabel only: separates the labels in a cell (whitespace stripped)")
    threshold: Union[float, Mapping[str, float]] = option(
        0.5, doc="multilabel only: a label is predicted when its probability is >= the threshold; "
                 "one number, or {label: number} (other labels 0.5)")

    def thresholds(self, labels):
        """The threshold of each label in `labels`, in order.

        Example:

        >>> OutputSpec(name="tags", type="multilabel", column="t", threshold={"b": 0.3}).thresholds(["a", "b"])
        [0.5, 0.3]
        """
        if isinstance(self.threshold, Mapping):
            return [float(self.threshold.get(label, 0.5)) for label in labels]
        return [float(self.threshold)] * len(labels)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainingSpec:
    """How the model is fitted: epochs, batch size, optimizer, XLA, seed, caching, precision.

    Example:

    >>> spec.training.epochs, spec.training.optimizer, spec.training.jit_compile
    (1, 'adam', True)
    """

    epochs: int = option(10, minimum=1, doc="passes over the training split")
    batch_size: int = option(32, minimum=1, doc="examples per step")
    learning_rate: float = option(1e-3, exclusive_minimum=0, doc="optimizer step size")
    optimizer: str = option("adam", choices=("adam", "adamw", "sgd", "rmsprop"), doc="keras optimizer")
    jit_compile: Union[bool, str] = option(
        "auto", choices=("auto", True, False),
        doc="XLA-compile the train step; auto: on with a GPU/TPU, off on a CPU-only host or with deterministic "
            "(see mmkeras.jit)")
    seed: int = option(0, minimum=0, doc="seed for splits, shuffling and initialisation")
    cache: str = option("none", choices=("none", "memory", "disk"),
                        doc="keep decoded examples after the first epoch (memory or a temporary file)")
    deterministic: bool = option(False, doc="reproducible pipeline order and TF op determinism")
    precision: str = option("float32", choices=("float32", "mixed_float16", "mixed_bfloat16"),
                            doc="compute dtype policy; outputs and losses stay float32")
    modality_dropout: float = option(0.0, minimum=0, exclusive_maximum=1,
                                     doc="probability of dropping each input of a training row (never all)")
    strategy: str = option("auto", choices=("auto", "default", "mirrored", "multi_worker", "tpu"),
                           doc="tf.distribute strategy; auto: multi_worker when TF_CONFIG names several tasks, "
                               "tpu when one is found, mirrored with several GPUs, else default")
    scale_learning_rate: Optional[str] = option(None, choices=(None, "linear"),
                                                doc="linear: learning_rate times the number of replicas")
    checkpoint_every: Union[str, int] = option("epoch", doc="checkpoint into RUN_DIR/checkpoints/: 'epoch' or "
                                                            "a number of steps")
    data_service: Optional[str] = option(None, doc="grpc://HOST:PORT of a tf.data service dispatcher that "
                                                   "decodes the training examples")
    tensorboard: bool = option(False, doc="log scalars, the graph and weight histograms to RUN_DIR/tensorboard/ "
                                          "(Keras' TensorBoard callback)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """A task other than predicting `outputs`: `retrieval` trains a contrastive dual encoder.

    `pair` names two inputs; each becomes a tower (its encoder, a projection
    to `embedding_dim`, L2 normalisation) trained with symmetric InfoNCE (CLIP).

    Example:

    >>> TaskSpec(type="retrieval", pair=("picture", "caption")).embedding_dim
    64
    """

    type: str = option(REQUIRED, choices=("retrieval",), doc="the task; retrieval: a contrastive dual encoder")
    pair: Tuple[str, ...] = option(REQUIRED, doc="the two inputs whose embeddings are aligned, e.g. [picture, name]")
    embedding_dim: int = option(64, minimum=1, doc="size of the shared embedding")
    temperature: float = option(0.07, exclusive_minimum=0, doc="initial softmax temperature, in [0.01, 1]")
    learn_temperature: bool = option(True, doc="learn the temperature (as a log logit scale, clamped like CLIP)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Spec:
    """A whole validated spec. Build one with `mmkeras.load_spec`.

    Example:

    >>> spec.name, list(spec.inputs), list(spec.outputs), spec.task
    ('demo', ['picture', 'sound', 'caption', 'reading', 'colour'], ['label'], None)
    """

    spec_version: int
    name: str
    data: DataSpec
    inputs: Mapping[str, InputSpec]
    fusion: FusionSpec
    outputs: Mapping[str, OutputSpec]
    training: TrainingSpec
    task: Optional[TaskSpec] = None  # retrieval: a dual encoder over task.pair; then `outputs` is empty
    source: Optional[str] = None  # the file it came from, for messages

    @property
    def model_name(self):
        """`name` as a Keras model name: characters TensorFlow refuses in a name scope (`+`, spaces) become `_`.

        Example:

        >>> dataclasses.replace(spec, name="log_mel+cnn (fold 1)").model_name
        'log_mel_cnn__fold_1_'
        """
        name = re.sub(r"[^A-Za-z0-9_.\-]", "_", self.name or "model")
        return name if re.match(r"[A-Za-z0-9.]", name) else f"m{name}"

    def to_dict(self):
        """A JSON-ready dict that `load_spec` turns back into an equal spec.

        Example:

        >>> mmkeras.load_spec(spec.to_dict()).to_dict() == spec.to_dict()
        True
        """
        def enc(e):
            return {"type": e.type, **dict(e.options)}

        def fields(obj, skip=()):
            out = {}
            for f in dataclasses.fields(obj):
                if f.name in skip:
                    continue
                v = getattr(obj, f.name)
                if isinstance(v, EncoderSpec):
                    v = enc(v)
                elif dataclasses.is_dataclass(v):
                    v = fields(v)
                elif isinstance(v, tuple):
                    v = list(v)
                elif isinstance(v, Mapping):
                    v = dict(v)
                out[f.name] = v
            return out

        fusion = fields(self.fusion, skip=("options",))
        fusion.update(dict(self.fusion.options))
        out = {
            "spec_version": self.spec_version,
            "name": self.name,
            "data": fields(self.data),
            "inputs": {n: fields(i, skip=("name",)) for n, i in self.inputs.items()},
            "fusion": fusion,
            "outputs": {n: fields(o, skip=("name",)) for n, o in self.outputs.items()},
            "training": fields(self.training),
        }
        if self.task is not None:  # a retrieval spec: `task` instead of fusion and outputs
            del out["fusion"], out["outputs"]
            out["task"] = fields(self.task)
        return out

    def with_data(self, *, path=None, root=None):
        """A copy of this spec that reads another table and/or file root.

        A new `path` without a `root` resets the root to that table's folder.
        Relative paths are taken from the current directory.

        Example:

        >>> other = spec.with_data(path=os.path.join(tmp_dir, "more.csv"))
        >>> os.path.basename(other.data.path), other.data.root
        ('more.csv', None)
        """
        data = self.data
        if path is not None:
            data = dataclasses.replace(data, path=os.path.abspath(path), root=None, tfds=None)
        if root is not None:
            data = dataclasses.replace(data, root=os.path.abspath(root))
        return dataclasses.replace(self, data=data)
