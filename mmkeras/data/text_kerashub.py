"""Text inputs with a KerasHub encoder: the preset's own tokenizer and packer, as TensorFlow ops.

A text input with `encoder: {type: kerashub, preset: ...}` is tokenised by
the preset's `TextClassifierPreprocessor` (WordPiece or BPE plus the
family's start/end tokens and padding) instead of an adapted vocabulary. It
runs in `tf.data` (never in the XLA-compiled model) and, traced, inside the
exported SavedModel. Its WordPiece/BPE ops come from `tensorflow_text`: a
process serving the export imports `tensorflow_text` first (the export's
`assets.extra/mmkeras.json` lists it under `serving_imports`).
"""

import tensorflow as tf

from mmkeras.data.feature import Feature
from mmkeras.encoders.kerashub_presets import from_preset

SERVING_IMPORTS = ("tensorflow_text",)


class KerasHubTextFeature(Feature):
    """A text input tokenised by a KerasHub preset: string -> `[sequence_length]` int32 token ids.

    Nothing is adapted: the vocabulary is the preset's. Padding uses the
    tokenizer's pad id (`pad_token_id`), from which the encoder rebuilds the
    padding mask. The saved state is the preset and `sequence_length`.

    Args:
        spec: a `TextInputSpec` whose encoder is `kerashub`.

    Example:

    >>> bert = os.path.join(tmp_dir, "bert")
    >>> from mmkeras.testing.kerashub import tiny_bert_preset
    >>> _ = tiny_bert_preset(bert)
    >>> s = mmkeras.specs.inputs.TextInputSpec(name="t", type="text", column="t", sequence_length=8,
    ...     encoder=mmkeras.specs.inputs.EncoderSpec(type="kerashub", options={"preset": bert}))
    >>> feature = KerasHubTextFeature(s).adapt(["a red cat"])
    >>> feature.transform(tf.constant(["a red cat"])).numpy()   # [CLS] a red cat [SEP] and padding
    array([[ 2, 49, 45, 47,  3,  0,  0,  0]], dtype=int32)
    """

    raw_dtype = tf.string
    is_file = False
    serving_imports = SERVING_IMPORTS

    def __init__(self, spec):
        self.spec = spec
        self.shape = (spec.sequence_length,)
        self.dtype = "int32"
        self.layer = None
        self.preset = spec.encoder.options.get("preset")

    def _load(self):
        self.layer = from_preset("TextClassifierPreprocessor", self.preset,
                                 f"inputs.{self.spec.name}.encoder.preset",
                                 sequence_length=self.spec.sequence_length)
        self.layer(tf.constant([""]))  # build eagerly, not inside a tf.data graph
        return self

    @property
    def pad_token_id(self):
        """The id that pads token sequences (0 for BERT, 1 for RoBERTa)."""
        return int(getattr(self.layer.tokenizer, "pad_token_id", 0) or 0)

    @property
    def vocabulary_size(self):
        return int(self.layer.tokenizer.vocabulary_size())

    def adapt(self, column_values, dataset=None):
        return self._load()

    def transform(self, batch, training=False):
        token_ids = self.layer(batch)["token_ids"]
        return tf.ensure_shape(tf.cast(token_ids, tf.int32), batch.shape.concatenate(self.shape))

    def get_state(self):
        return {"preset": self.preset, "sequence_length": self.spec.sequence_length}

    def set_state(self, state):
        if state.get("preset") not in (None, self.preset):
            raise ValueError(f"Input {self.spec.name!r}: the saved preprocessor used the preset "
                             f"{state['preset']!r} but the spec names {self.preset!r}")
        self._load()


def serving_imports(features):
    """The Python modules a process must import before loading an export of these features (sorted).

    KerasHub tokenizers use `tensorflow_text` ops; without the import, loading
    the SavedModel fails with "Op type not registered 'RegexSplitWithOffsets'".

    Args:
        features: {input name: Feature}, e.g. `preprocessor.features`.

    Example:

    >>> serving_imports(pre.features)   # the demo spec's own vocabularies need nothing
    []
    """
    return sorted({module for feature in features.values() for module in getattr(feature, "serving_imports", ())})
