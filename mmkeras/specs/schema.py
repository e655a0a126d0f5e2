"""Frozen dataclasses describing a validated spec.

Every field that a user may write in a spec file is a dataclass field here.
Field metadata drives validation in `loader.py`:

* `choices`: the allowed values,
* `minimum` / `exclusive_minimum`: numeric bounds,
* `doc`: a one-line description (used in error messages and the README).
"""

import dataclasses
from typing import Any, Mapping, Optional, Tuple, Union

from mmkeras.errors import SpecError


def option(default, *, choices=None, minimum=None, exclusive_minimum=None, exclusive_maximum=None, doc=""):
    """A dataclass field with validation metadata."""
    meta = {"choices": choices, "minimum": minimum,
            "exclusive_minimum": exclusive_minimum, "exclusive_maximum": exclusive_maximum, "doc": doc}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


REQUIRED = dataclasses.MISSING
INPUT_TYPES = ("image", "text", "audio", "numeric", "categorical", "multi_hot", "boolean", "video")
OUTPUT_TYPES = ("classification", "binary", "multilabel", "regression")


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
    modality_dropout: Optional[float] = option(
        None, minimum=0, exclusive_maximum=1,
        doc="probability of dropping this input in a training row (default training.modality_dropout)")

    @property
    def is_file(self):
        """True when the column holds file paths (read as bytes)."""
        return self.type in ("image", "audio", "video")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageAugmentSpec:
    """Random image augmentation: the training pipeline only, never evaluation or the export.

    Every value 0 (the default) switches that step off.
    """

    flip: str = option("none", choices=("none", "horizontal", "vertical", "horizontal_and_vertical"),
                       doc="random mirroring")
    rotation: float = option(0.0, minimum=0, doc="largest rotation, a fraction of a full turn (0.05: ±18°), at most 0.5")
    zoom: float = option(0.0, minimum=0, doc="largest zoom in or out, a fraction of the size, below 1")
    contrast: float = option(0.0, minimum=0, doc="contrast scaled by a random factor in [1 - c, 1 + c], at most 1")
    translation: float = option(0.0, minimum=0, doc="largest shift, a fraction of height and width, at most 1")

    @property
    def enabled(self):
        return self.flip != "none" or any((self.rotation, self.zoom, self.contrast, self.translation))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageInputSpec(InputSpec):
    height: int = option(REQUIRED, minimum=1, doc="output height in pixels")
    width: int = option(REQUIRED, minimum=1, doc="output width in pixels")
    channels: int = option(3, choices=(1, 3, 4),
                           doc="1 (grayscale) or 3 (RGB): alpha is flattened onto white; 4: RGBA, alpha kept")
    resize: str = option("stretch", choices=("stretch", "crop", "pad"),
                         doc="stretch to height x width; crop: center crop to its aspect ratio; pad: letterbox")
    pad_value: float = option(0.0, minimum=0, doc="resize: pad only: value of the added border, in [0, 1]")
    augment: ImageAugmentSpec = dataclasses.field(default_factory=ImageAugmentSpec)

    def __post_init__(self):
        limits = [("pad_value", self.pad_value, 1.0, True), ("augment.rotation", self.augment.rotation, 0.5, True),
                  ("augment.zoom", self.augment.zoom, 1.0, False),
                  ("augment.contrast", self.augment.contrast, 1.0, True),
                  ("augment.translation", self.augment.translation, 1.0, True)]
        for key, value, top, inclusive in limits:
            if value > top or (value == top and not inclusive):
                allowed = f"at most {top:g}" if inclusive else f"below {top:g}"
                raise SpecError(f"inputs.{self.name}.{key}: {value!r} is too large; it must be {allowed}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextInputSpec(InputSpec):
    max_tokens: int = option(20000, minimum=3, doc="vocabulary size, padding and OOV included")
    sequence_length: int = option(64, minimum=1, doc="tokens kept per text (padded or truncated)")
    standardize: str = option("lower_and_strip_punctuation",
                              choices=("lower_and_strip_punctuation", "lower", "strip_punctuation", "none"),
                              doc="text clean-up before splitting (Unicode-aware; full-width ASCII folded)")
    tokenizer: str = option("cjk", choices=("cjk", "cjk_bigram", "whitespace", "character"),
                            doc="cjk: CJK characters one token each, other words split on whitespace")
    ngrams: Optional[int] = option(None, minimum=1, doc="also add token n-grams up to n (after the unigrams)")
    embeddings: Optional[str] = option(None, doc="GloVe-format word vectors file, relative to the spec file")
    embeddings_trainable: bool = option(True, doc="false freezes the pretrained embedding")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AudioAugmentSpec:
    """SpecAugment-style masks on the audio features: the training pipeline only.

    A count of 0 (the default) switches that kind of mask off.
    """

    time_masks: int = option(0, minimum=0, doc="stripes of frames set to the training mean, per clip")
    time_mask_width: int = option(8, minimum=1, doc="largest width of a time stripe, in frames (samples for waveform)")
    freq_masks: int = option(0, minimum=0, doc="stripes of bands (mel bands, bins, coefficients) set to the mean")
    freq_mask_width: int = option(8, minimum=1, doc="largest width of a frequency stripe, in bands")

    @property
    def enabled(self):
        return bool(self.time_masks or self.freq_masks)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AudioInputSpec(InputSpec):
    sample_rate: int = option(16000, minimum=1, doc="sample rate of the waveform in Hz")
    resample: bool = option(False, doc="resample files at other rates in-graph (false: another rate is an error)")
    duration: float = option(1.0, exclusive_minimum=0, doc="seconds; shorter clips are padded, longer cropped")
    crop: str = option("start", choices=("start", "center", "random"),
                       doc="which part of a long clip is kept; random: in training only (center otherwise)")
    normalize: str = option("none", choices=("none", "peak", "rms"),
                            doc="per clip: peak to 1, or RMS to 0.1 (-20 dBFS)")
    features: str = option("log_mel", choices=("waveform", "spectrogram", "log_mel", "mfcc", "chroma"),
                           doc="the feature computed from the waveform")
    n_mels: int = option(64, minimum=1, doc="mel bands")
    n_fft: Optional[int] = option(None, minimum=2, doc="FFT size (default: ~32 ms, a power of two)")
    hop_length: Optional[int] = option(None, minimum=1, doc="samples between frames (default win_length // 4)")
    win_length: Optional[int] = option(None, minimum=1, doc="window length, at most n_fft (default n_fft)")
    window: str = option("hann", choices=("hann", "hamming", "blackman", "bartlett", "boxcar"),
                         doc="STFT window (periodic, as librosa's)")
    center: bool = option(True, doc="pad n_fft // 2 zeros on both sides so frame t is centred on sample t * hop")
    power: float = option(2.0, exclusive_minimum=0, doc="exponent of the STFT magnitude (2: power, 1: magnitude)")
    fmin: float = option(0.0, minimum=0, doc="lowest mel frequency in Hz")
    fmax: Optional[float] = option(None, exclusive_minimum=0, doc="highest mel frequency (default sample_rate / 2)")
    n_mfcc: int = option(20, minimum=1, doc="features: mfcc: coefficients kept, at most n_mels")
    n_chroma: int = option(12, minimum=1, doc="features: chroma: bins per octave")
    tuning: float = option(0.0, doc="features: chroma: tuning offset in fractions of a bin, in [-0.5, 0.5)")
    top_db: Optional[float] = option(80.0, exclusive_minimum=0, doc="floor below each clip's peak in dB; null for none")
    augment: AudioAugmentSpec = dataclasses.field(default_factory=AudioAugmentSpec)

    def __post_init__(self):
        problems = []
        if self.win_length is not None and self.win_length > self.resolved_n_fft:
            problems.append(("win_length", self.win_length, f"is larger than n_fft ({self.resolved_n_fft})"))
        if self.features == "mfcc" and self.n_mfcc > self.n_mels:
            problems.append(("n_mfcc", self.n_mfcc, f"is larger than n_mels ({self.n_mels})"))
        if not self.center and self.num_samples < self.resolved_n_fft:
            problems.append(("center", False, f"needs at least n_fft ({self.resolved_n_fft}) samples per clip, "
                                              f"and duration gives {self.num_samples}"))
        if self.fmin >= (self.fmax or self.sample_rate / 2):
            problems.append(("fmin", self.fmin, f"must be below fmax ({self.fmax or self.sample_rate / 2:g})"))
        if not -0.5 <= self.tuning < 0.5:
            problems.append(("tuning", self.tuning, "is not in [-0.5, 0.5)"))
        if self.features == "waveform" and self.encoder.type == "cnn":
            problems.append(("encoder.type", "cnn", "is 2D over a spectrogram; features: waveform needs "
                                                    "cnn1d or crnn"))
        if problems:
            key, value, message = problems[0]
            raise SpecError(f"inputs.{self.name}.{key}: {value!r} {message}")

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
        return self.hop_length or (self.win_length or self.resolved_n_fft) // 4

    @property
    def num_frames(self):
        # librosa's framing; center=True: n_fft // 2 zeros on each side.
        n_fft = self.resolved_n_fft
        padded = self.num_samples + (2 * (n_fft // 2) if self.center else 0)
        return 1 + (padded - n_fft) // self.resolved_hop_length


@dataclasses.dataclass(frozen=True, kw_only=True)
class NumericInputSpec(InputSpec):
    impute: str = option("mean", choices=("mean", "median", "constant"),
                         doc="value for a missing (NaN/inf) number: training mean, median or `fill_value`")
    fill_value: float = option(0.0, doc="impute: constant only: the value used")
    missing_indicator: bool = option(False, doc="add an is-missing column (model input [2] instead of [1])")
    normalization: str = option("standard", choices=("standard", "minmax", "log1p", "none"),
                                doc="standard; minmax to [0, 1]; log1p: sign(x)*log(1+|x|) then standard")
    clip: Optional[Tuple[float, ...]] = option(None, doc="[low, high]: raw values clipped before anything else")

    def __post_init__(self):
        if self.clip is not None and (len(self.clip) != 2 or self.clip[0] > self.clip[1]):
            raise SpecError(f"inputs.{self.name}.clip: {list(self.clip)!r} is not [low, high] with low <= high")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CategoricalInputSpec(InputSpec):
    max_tokens: Optional[int] = option(None, minimum=2, doc="largest vocabulary kept (most frequent first)")
    min_frequency: int = option(1, minimum=1, doc="values seen fewer times in train go to the OOV index")
    encoding: str = option("embedding", choices=("embedding", "one_hot"),
                           doc="model input: the index [1] (for an embedding) or a one-hot vector [vocabulary]")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MultiHotInputSpec(InputSpec):
    separator: str = option(",", doc="separates the values in a cell; whitespace around values is stripped")
    max_tokens: Optional[int] = option(None, minimum=1, doc="largest vocabulary kept (most frequent first)")
    min_frequency: int = option(1, minimum=1, doc="values seen fewer times in train go to the OOV slot")

    def __post_init__(self):
        if not self.separator:
            raise SpecError(f"inputs.{self.name}.separator: '' is not a non-empty string")


@dataclasses.dataclass(frozen=True, kw_only=True)
class BooleanInputSpec(InputSpec):
    fill_value: float = option(0.0, doc="value for a missing boolean (false)")
    missing_indicator: bool = option(True, doc="add an is-missing column (model input [2] instead of [1])")


@dataclasses.dataclass(frozen=True, kw_only=True)
class VideoInputSpec(InputSpec):
    frames: int = option(8, minimum=1, doc="frames sampled uniformly per clip (short clips repeat the last frame)")
    height: int = option(REQUIRED, minimum=1, doc="frame height in pixels")
    width: int = option(REQUIRED, minimum=1, doc="frame width in pixels")
    channels: int = option(3, choices=(1, 3), doc="1 (grayscale) or 3 (RGB)")


INPUT_CLASSES = {
    "image": ImageInputSpec,
    "text": TextInputSpec,
    "audio": AudioInputSpec,
    "numeric": NumericInputSpec,
    "categorical": CategoricalInputSpec,
    "multi_hot": MultiHotInputSpec,
    "boolean": BooleanInputSpec,
    "video": VideoInputSpec,
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
    epochs: int = option(10, minimum=1, doc="passes over the training split")
    batch_size: int = option(32, minimum=1, doc="examples per step")
    learning_rate: float = option(1e-3, exclusive_minimum=0, doc="optimizer step size")
    optimizer: str = option("adam", choices=("adam", "adamw", "sgd", "rmsprop"), doc="keras optimizer")
    jit_compile: bool = option(True, doc="XLA-compile the train step")
    seed: int = option(0, minimum=0, doc="seed for splits, shuffling and initialisation")
    cache: str = option("none", choices=("none", "memory", "disk"),
                        doc="keep decoded examples after the first epoch (memory or a temporary file)")
    deterministic: bool = option(False, doc="reproducible pipeline order and TF op determinism")
    precision: str = option("float32", choices=("float32", "mixed_float16", "mixed_bfloat16"),
                            doc="compute dtype policy; outputs and losses stay float32")
    modality_dropout: float = option(0.0, minimum=0, exclusive_maximum=1,
                                     doc="probability of dropping each input of a training row (never all)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """A task other than predicting `outputs`: `retrieval` trains a contrastive dual encoder.

    `pair` names two inputs; each becomes a tower (its encoder, a projection
    to `embedding_dim`, L2 normalisation) trained with symmetric InfoNCE (CLIP).
    """

    type: str = option(REQUIRED, choices=("retrieval",), doc="the task; retrieval: a contrastive dual encoder")
    pair: Tuple[str, ...] = option(REQUIRED, doc="the two inputs whose embeddings are aligned, e.g. [picture, name]")
    embedding_dim: int = option(64, minimum=1, doc="size of the shared embedding")
    temperature: float = option(0.07, exclusive_minimum=0, doc="initial softmax temperature, in [0.01, 1]")
    learn_temperature: bool = option(True, doc="learn the temperature (as a log logit scale, clamped like CLIP)")


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
    task: Optional[TaskSpec] = None  # retrieval: a dual encoder over task.pair; then `outputs` is empty
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
        """
        import os

        data = self.data
        if path is not None:
            data = dataclasses.replace(data, path=os.path.abspath(path), root=None)
        if root is not None:
            data = dataclasses.replace(data, root=os.path.abspath(root))
        return dataclasses.replace(self, data=data)
