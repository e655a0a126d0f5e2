"""Specs: what a model reads, how it is fused, what it predicts, how it trains."""

from mmkeras.errors import SpecError
from mmkeras.specs.loader import load_spec
from mmkeras.specs.schema import (
    AudioInputSpec, CategoricalInputSpec, DataSpec, EncoderSpec, FusionSpec,
    ImageInputSpec, InputSpec, NumericInputSpec, OutputSpec, Spec, SplitSpec,
    TaskSpec, TextInputSpec, TrainingSpec,
)
