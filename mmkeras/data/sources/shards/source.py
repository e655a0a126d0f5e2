"""`ShardSource`: a folder of TFRecord shards written by `mmkeras convert` as a run's source."""

import os

from mmkeras.data.preprocessor import Preprocessor
from mmkeras.data.sources.base import SPLITS, Source
from mmkeras.data.sources.shards.format import PREPROCESSOR_DIR, check_shard_spec
from mmkeras.data.sources.shards.read import shard_dataset
from mmkeras.specs import load_spec


class ShardSource(Source):
    """The splits of a shard folder, read back as the datasets `make_dataset` yielded when it was written.

    The spec must have the inputs and outputs the shards were written with
    (`check_shard_spec`); encoders, fusion and training options may differ.

    Args:
        spec: a loaded Spec.
        folder: the shard folder (default: the spec's `data.path`).

    Attributes:
        folder: the shard folder.
        index: its parsed `shards.json` (mode, features, structure, splits).

    Example:

    >>> folder = os.path.join(tmp_dir, "shards")
    >>> from mmkeras.data.sources.shards.write import convert_to_shards
    >>> _ = convert_to_shards(spec, folder, 2, progress=False)
    >>> source = ShardSource(spec, folder)
    >>> source.split_names, source.sizes() == {k: len(v) for k, v in splits.items() if v is not None}
    (['train', 'validation', 'test'], True)
    >>> source.mode, source.preprocessor().get_state() == pre.get_state()
    ('preprocessed', True)
    """

    def __init__(self, spec, folder=None):
        self.spec = load_spec(spec)
        self.folder = self.spec.data.path if folder is None else folder
        self.index = check_shard_spec(self.spec, self.folder)
        self.split_names = [k for k in SPLITS if k in self.index["splits"]]

    @property
    def description(self):
        """"the shards in FOLDER" (see `Source.description`)."""
        return f"the shards in {self.folder}"

    @property
    def mode(self):
        """"preprocessed" (model-ready tensors) or "raw" (file bytes, decoded when read); see the class example."""
        return self.index["mode"]

    def sizes(self):
        """{split: examples} as `shards.json` counts them; see the class example."""
        return {k: self.index["splits"][k]["count"] for k in self.split_names}

    def preprocessor(self):
        """The Preprocessor saved in `folder/preprocessor/`, with this source's spec; see the class example."""
        return Preprocessor.load(os.path.join(self.folder, PREPROCESSOR_DIR), spec=self.spec)

    def dataset(self, split, preprocessor, *, training=False, with_targets=True, batch_size=None):
        """A split through `shard_dataset`, seeded and batched as the spec's `training` says.

        Example:

        >>> folder = os.path.join(tmp_dir, "shards")
        >>> from mmkeras.data.sources.shards.write import convert_to_shards
        >>> _ = convert_to_shards(spec, folder, 2, progress=False)
        >>> source = ShardSource(spec, folder)
        >>> inputs, targets = next(iter(source.dataset("test", source.preprocessor(), batch_size=4)))
        >>> int(inputs["_presence"].shape[0]), sorted(targets)
        (4, ['label'])
        """
        self.check_split(split)
        t = self.spec.training
        return shard_dataset(self.folder, split, batch_size=batch_size or t.batch_size, training=training,
                             seed=t.seed, deterministic=t.deterministic or None, with_targets=with_targets,
                             preprocessor=preprocessor)
