"""Frozen dataclasses describing a validated spec.

Every field that a user may write in a spec file is a dataclass field here.
Field metadata drives validation in `loader.py`:

* `choices`: the allowed values,
* `minimum` / `exclusive_minimum`: numeric bounds,
* `doc`: a one-line description (used in error messages and the README).
"""

import dataclasses
from typing import Any, Mapping, Optional, Tuple, Union


def option(default, *, choices=None, minimum=None, exclusive_minimum=None, doc=""):
    """A dataclass field with validation metadata."""
    meta = {"choices": choices, "minimum": minimum,
            "exclusive_minimum": exclusive_minimum, "doc": doc}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


REQUIRED = dataclasses.MISSING
INPUT_TYPES = ("image", "text", "audio", "numeric", "categorical")
OUTPUT_TYPES = ("classification", "binary", "regression")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EncoderSpec:
    """Which registered encoder builds an input's branch, and its options."""

    type: str
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class InputSpec:
    """Options shared by every input: its name, modality, column and encoder."""

    name: str
    type: str
    column: str
    encoder: EncoderSpec

    @property
    def is_file(self):
        """True when the column holds file paths (read as bytes)."""
        return self.type in ("image", "audio")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageInputSpec(InputSpec):
    height: int = option(REQUIRED, minimum=1, doc="output height in pixels")
    width: int = option(REQUIRED, minimum=1, doc="output width in pixels")
    channels: int = option(3, choices=(1, 3), doc="1 (grayscale) or 3 (RGB); alpha is flattened onto white")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextInputSpec(InputSpec):
    max_tokens: int = option(20000, minimum=3, doc="vocabulary size, padding and OOV included")
    sequence_length: int = option(64, minimum=1, doc="tokens kept per text (padded or truncated)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AudioInputSpec(InputSpec):
    sample_rate: int = option(16000, minimum=1, doc="expected sample rate in Hz")
    duration: float = option(1.0, exclusive_minimum=0, doc="seconds; shorter clips are padded, longer cropped")
    crop: str = option("start", choices=("start", "center"), doc="which part of a long clip is kept")
    features: str = option("log_mel", choices=("log_mel",), doc="the feature computed from the waveform")
    n_mels: int = option(64, minimum=1, doc="mel bands")
    n_fft: Optional[int] = option(None, minimum=2, doc="FFT size (default: ~32 ms, a power of two)")
    hop_length: Optional[int] = option(None, minimum=1, doc="samples between frames (default n_fft // 4)")
    fmin: float = option(0.0, minimum=0, doc="lowest mel frequency in Hz")
    fmax: Optional[float] = option(None, exclusive_minimum=0, doc="highest mel frequency (default sample_rate / 2)")
    top_db: Optional[float] = option(80.0, exclusive_minimum=0, doc="floor below each clip's peak in dB; null for none")

    @property
    def num_samples(self):
        return int(round(self.sample_rate * self.duration))

    @property
    def resolved_n_fft(self):
        if self.n_fft:
            return self.n_fft
        return 1 << max(1, int(round(0.032 * self.sample_rate)) - 1).bit_length()

    @property
    def resolved_hop_length(self):
        return self.hop_length or self.resolved_n_fft // 4

    @property
    def num_frames(self):
        # librosa's center=True framing: n_fft // 2 zeros on each side.
        n_fft = self.resolved_n_fft
        return 1 + (self.num_samples + 2 * (n_fft // 2) - n_fft) // self.resolved_hop_length


@dataclasses.dataclass(frozen=True, kw_only=True)
class NumericInputSpec(InputSpec):
    pass


@dataclasses.dataclass(frozen=True, kw_only=True)
class CategoricalInputSpec(InputSpec):
    max_tokens: Optional[int] = option(None, minimum=2, doc="largest vocabulary kept (most frequent first)")


INPUT_CLASSES = {
    "image": ImageInputSpec,
    "text": TextInputSpec,
    "audio": AudioInputSpec,
    "numeric": NumericInputSpec,
    "categorical": CategoricalInputSpec,
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SplitSpec:
    """How the table is split: a column's values, or seeded stratified fractions."""

    column: Optional[str] = option(None, doc="column holding the split of each row")
    train: Union[str, float] = option("train", doc="value in `column`, or a fraction")
    validation: Union[str, float, None] = option(None, doc="value in `column`, or a fraction (carved out of train when `column` is set)")
    test: Union[str, float, None] = option(None, doc="value in `column`, or a fraction")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataSpec:
    path: Optional[str] = option(None, doc="table file (CSV, TSV, Parquet, JSONL), relative to the spec file")
    root: Optional[str] = option(None, doc="base folder for file paths in the table (default: the table's folder)")
    read_options: Mapping[str, Any] = option({}, doc="keyword arguments passed to the pandas reader")
    split: SplitSpec = dataclasses.field(default_factory=SplitSpec)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FusionSpec:
    type: str = option("concat", doc="registered fusion name")
    hidden_units: Tuple[int, ...] = option((128,), doc="sizes of the dense layers after fusion")
    dropout: float = option(0.0, minimum=0, doc="dropout rate after each hidden layer")
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class OutputSpec:
    name: str
    type: str = option(REQUIRED, doc="task of this output: a registered head (classification, binary, regression)")
    column: str = option(REQUIRED, doc="table column with the target")
    positive: Optional[str] = option(None, doc="binary only: the positive class value")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainingSpec:
    epochs: int = option(10, minimum=1, doc="passes over the training split")
    batch_size: int = option(32, minimum=1, doc="examples per step")
    learning_rate: float = option(1e-3, exclusive_minimum=0, doc="optimizer step size")
    optimizer: str = option("adam", choices=("adam", "adamw", "sgd", "rmsprop"), doc="keras optimizer")
    jit_compile: bool = option(True, doc="XLA-compile the train step")
    seed: int = option(0, minimum=0, doc="seed for splits, shuffling and initialisation")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Spec:
    """A whole validated spec. Build one with `mmkeras.load_spec`."""

    spec_version: int
    name: str
    data: DataSpec
    inputs: Mapping[str, InputSpec]
    fusion: FusionSpec
    outputs: Mapping[str, OutputSpec]
    training: TrainingSpec
    source: Optional[str] = None  # the file it came from, for messages

    def to_dict(self):
        """A JSON-ready dict that `load_spec` turns back into an equal spec."""
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
        return {
            "spec_version": self.spec_version,
            "name": self.name,
            "data": fields(self.data),
            "inputs": {n: fields(i, skip=("name",)) for n, i in self.inputs.items()},
            "fusion": fusion,
            "outputs": {n: fields(o, skip=("name",)) for n, o in self.outputs.items()},
            "training": fields(self.training),
        }

    def with_data(self, *, path=None, root=None):
        """A copy of this spec that reads another table and/or file root.

        A new `path` without a `root` resets the root to that table's folder.
        Relative paths are taken from the current directory.
        """
        import os

        data = self.data
        if path is not None:
            data = dataclasses.replace(data, path=os.path.abspath(path), root=None)
        if root is not None:
            data = dataclasses.replace(data, root=os.path.abspath(root))
        return dataclasses.replace(self, data=data)
