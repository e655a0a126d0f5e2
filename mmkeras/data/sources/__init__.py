"""Where examples come from: one `Source` interface over tables (`table.py`), TFRecord shard folders (`shards/`)
and TensorFlow Datasets (`tfds/`).

`source_for(spec)` picks the source a spec's `data` names. A new source is
one module with a `Source` subclass, and a case here.
"""

from mmkeras.data.sources.base import SPLITS, Source
from mmkeras.data.sources.shards.format import is_shard_folder
from mmkeras.data.sources.shards.source import ShardSource
from mmkeras.data.sources.table import TableSource
from mmkeras.data.sources.tfds import TfdsSource
from mmkeras.specs import load_spec


def source_for(spec):
    """The Source of a spec: a `TfdsSource` for `data.tfds`, a `ShardSource` when `data.path` is a shard folder
    (`mmkeras convert`), else a `TableSource`.

    Args:
        spec: a Spec, spec file or dict.

    Example:

    >>> source = source_for(spec)
    >>> type(source).__name__, source.sizes()["train"] == len(splits["train"])
    ('TableSource', True)
    """
    spec = load_spec(spec)
    if spec.data.tfds is not None:
        return TfdsSource(spec)
    if is_shard_folder(spec.data.path):
        return ShardSource(spec)
    return TableSource(spec)


__all__ = ["SPLITS", "ShardSource", "Source", "TableSource", "TfdsSource", "source_for"]
