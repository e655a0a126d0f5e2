"""Specs: what a model reads, how it is fused, what it predicts, how it trains.

`schema` holds the frozen dataclasses; `loader` validates a file or dict into
them. The loader checks encoder, fusion and output type names against their
registries, so it sits above them: modules that the registries import use
`mmkeras.specs.schema` (and `mmkeras.errors`), never the loader. The schema
is imported first so that its names exist while the loader imports.
"""

from mmkeras.errors import SpecError
from mmkeras.specs.schema import (
    AudioInputSpec, CategoricalInputSpec, DataSpec, EncoderSpec, FusionSpec,
    ImageInputSpec, InputSpec, NumericInputSpec, OutputSpec, Spec, SplitSpec,
    TaskSpec, TextInputSpec, TrainingSpec,
)
from mmkeras.specs.loader import load_spec
