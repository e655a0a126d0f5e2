"""The spec of each input type (`inputs.<name>` in a spec), frozen dataclasses.

`INPUT_CLASSES` maps an input `type` to its class; every class adds its
type's keys to the shared `InputSpec` fields (name, type, column, encoder,
modality_dropout). A spec file's keys are exactly these fields.
"""

import dataclasses
from typing import Any, Mapping, Optional, Tuple

from mmkeras.errors import SpecError
from mmkeras.specs.fields import REQUIRED, option

INPUT_TYPES = ("image", "text", "audio", "numeric", "categorical", "multi_hot", "boolean", "video")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EncoderSpec:
    """Which registered encoder builds an input's branch, and its options.

    Example:

    >>> spec.inputs["caption"].encoder
    EncoderSpec(type='bag_of_embeddings', options={'embedding_dim': 8})
    """

    type: str
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class InputSpec:
    """Options shared by every input: its name, modality, column and encoder.

    Example:

    >>> [(i.name, i.type, i.is_file) for i in spec.inputs.values()][:2]
    [('picture', 'image', True), ('sound', 'audio', True)]
    """

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

    Example:

    >>> ImageAugmentSpec().enabled, ImageAugmentSpec(flip="horizontal", rotation=0.05).enabled
    (False, True)
    """

    flip: str = option("none", choices=("none", "horizontal", "vertical", "horizontal_and_vertical"),
                       doc="random mirroring")
    rotation: float = option(0.0, minimum=0, doc="largest rotation, a fraction of a full turn (0.05: ±18°), at most 0.5")
    zoom: float = option(0.0, minimum=0, doc="largest zoom in or out, a fraction of the size, below 1")
    contrast: float = option(0.0, minimum=0, doc="contrast scaled by a random factor in [1 - c, 1 + c], at most 1")
    translation: float = option(0.0, minimum=0, doc="largest shift, a fraction of height and width, at most 1")

    @property
    def enabled(self):
        """True when any augmentation step is on."""
        return self.flip != "none" or any((self.rotation, self.zoom, self.contrast, self.translation))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageInputSpec(InputSpec):
    """An `image` input: a file (PNG, JPEG, GIF, BMP) or image bytes -> `[height, width, channels]` in [0, 1].

    Example:

    >>> picture = spec.inputs["picture"]
    >>> picture.height, picture.width, picture.channels, picture.resize
    (32, 32, 3, 'stretch')
    """

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
    """A `text` input: a string -> `sequence_length` token ids from a vocabulary adapted on train.

    Example:

    >>> spec.inputs["caption"].sequence_length, spec.inputs["caption"].tokenizer
    (12, 'cjk')
    """

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
    """SpecAugment-style masks on the features, and random shift, gain and noise of the waveform: training only.

    A count or amount of 0 (the default) switches that augmentation off.

    Example:

    >>> AudioAugmentSpec().enabled, AudioAugmentSpec(time_masks=2).enabled
    (False, True)
    """

    time_masks: int = option(0, minimum=0, doc="stripes of frames set to the training mean, per clip")
    time_mask_width: int = option(8, minimum=1, doc="largest width of a time stripe, in frames (samples for waveform)")
    freq_masks: int = option(0, minimum=0, doc="stripes of bands (mel bands, bins, coefficients) set to the mean")
    freq_mask_width: int = option(8, minimum=1, doc="largest width of a frequency stripe, in bands")
    time_shift: float = option(0.0, minimum=0, doc="largest random shift of the waveform, in seconds, either way "
                                                  "(zeros fill what it uncovers)")
    gain_db: float = option(0.0, minimum=0, doc="largest random gain of the waveform, in dB, up or down")
    noise: float = option(0.0, minimum=0, doc="largest standard deviation of white noise added to the waveform "
                                             "(full scale 1), drawn per clip")

    @property
    def enabled(self):
        """True when any augmentation is on."""
        return bool(self.time_masks or self.freq_masks or self.time_shift or self.gain_db or self.noise)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AudioInputSpec(InputSpec):
    """An `audio` input: a WAV (or FLAC, OGG...) file -> `features` of a clip of `duration` seconds.

    Example:

    >>> sound = spec.inputs["sound"]
    >>> sound.features, sound.num_samples, sound.resolved_n_fft, sound.resolved_hop_length, sound.num_frames
    ('log_mel', 4000, 256, 64, 63)
    """

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
    feature_norm: str = option("none", choices=("none", "clip_mean", "clip"),
                               doc="per clip, each band over its frames (in-graph, also in the export): clip_mean "
                                   "subtracts its mean, clip also divides by its standard deviation")
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
        """Samples per clip: `sample_rate * duration`."""
        return int(round(self.sample_rate * self.duration))

    @property
    def resolved_n_fft(self):
        """`n_fft`, or the power of two nearest to 32 ms."""
        if self.n_fft:
            return self.n_fft
        return 1 << max(1, int(round(0.032 * self.sample_rate)) - 1).bit_length()

    @property
    def resolved_hop_length(self):
        """`hop_length`, or a quarter of the window."""
        return self.hop_length or (self.win_length or self.resolved_n_fft) // 4

    @property
    def num_frames(self):
        """Frames per clip as librosa frames it (`center`: n_fft // 2 zeros on each side)."""
        n_fft = self.resolved_n_fft
        padded = self.num_samples + (2 * (n_fft // 2) if self.center else 0)
        return 1 + (padded - n_fft) // self.resolved_hop_length


@dataclasses.dataclass(frozen=True, kw_only=True)
class NumericInputSpec(InputSpec):
    """A `numeric` input: a number, imputed when missing, clipped and normalised with training statistics.

    Example:

    >>> spec.inputs["reading"].impute, spec.inputs["reading"].normalization
    ('mean', 'standard')
    """

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
    """A `categorical` input: a value looked up in a vocabulary adapted on train (unseen values: index 0).

    Example:

    >>> spec.inputs["colour"].encoding, spec.inputs["colour"].min_frequency
    ('embedding', 1)
    """

    max_tokens: Optional[int] = option(None, minimum=2, doc="largest vocabulary kept (most frequent first)")
    min_frequency: int = option(1, minimum=1, doc="values seen fewer times in train go to the OOV index")
    encoding: str = option("embedding", choices=("embedding", "one_hot"),
                           doc="model input: the index [1] (for an embedding) or a one-hot vector [vocabulary]")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MultiHotInputSpec(InputSpec):
    """A `multi_hot` input: a cell of `separator`-separated values -> one slot per vocabulary value.

    Example:

    >>> MultiHotInputSpec(name="tags", type="multi_hot", column="t", encoder=EncoderSpec(type="dense")).separator
    ','
    """

    separator: str = option(",", doc="separates the values in a cell; whitespace around values is stripped")
    max_tokens: Optional[int] = option(None, minimum=1, doc="largest vocabulary kept (most frequent first)")
    min_frequency: int = option(1, minimum=1, doc="values seen fewer times in train go to the OOV slot")

    def __post_init__(self):
        if not self.separator:
            raise SpecError(f"inputs.{self.name}.separator: '' is not a non-empty string")


@dataclasses.dataclass(frozen=True, kw_only=True)
class BooleanInputSpec(InputSpec):
    """A `boolean` input: true/false, yes/no, 1/0 -> `[value, is_missing]` (or `[value]`).

    Example:

    >>> BooleanInputSpec(name="ok", type="boolean", column="ok", encoder=EncoderSpec(type="identity")).missing_indicator
    True
    """

    fill_value: float = option(0.0, doc="value for a missing boolean (false)")
    missing_indicator: bool = option(True, doc="add an is-missing column (model input [2] instead of [1])")


@dataclasses.dataclass(frozen=True, kw_only=True)
class VideoInputSpec(InputSpec):
    """A `video` input: a folder (or list) of frame images -> `[frames, height, width, channels]`.

    Example:

    >>> VideoInputSpec(name="clip", type="video", column="c", height=8, width=8,
    ...                encoder=EncoderSpec(type="frames_cnn")).frames
    8
    """

    frames: int = option(8, minimum=1, doc="frames sampled uniformly per clip (short clips repeat the last frame)")
    height: int = option(REQUIRED, minimum=1, doc="frame height in pixels")
    width: int = option(REQUIRED, minimum=1, doc="frame width in pixels")
    channels: int = option(3, choices=(1, 3), doc="1 (grayscale) or 3 (RGB)")

    def frame_spec(self, encoder_type, options=None):
        """The image input spec of one frame, encoded by the image encoder `encoder_type` with `options`.

        Example:

        >>> clip = VideoInputSpec(name="clip", type="video", column="frames", height=8, width=8,
        ...                       encoder=EncoderSpec(type="frames_cnn"))
        >>> frame = clip.frame_spec("cnn", {"filters": [4]})
        >>> frame.name, frame.type, (frame.height, frame.width, frame.channels)
        ('clip_frame', 'image', (8, 8, 3))
        """
        return ImageInputSpec(name=f"{self.name}_frame", type="image", column=self.column,
                              encoder=EncoderSpec(type=encoder_type, options=dict(options or {})),
                              height=self.height, width=self.width, channels=self.channels)


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
