"""Pretrained KerasHub backbones as encoders (`encoder: {type: kerashub, preset: ...}`).

The preset (a local folder or a KerasHub preset name, see
`mmkeras.encoders.kerashub_presets`) gives the backbone, loaded with its
weights inside the model; its tokenizer (text) or image converter (images)
runs in the preprocessor (`mmkeras.data.text_kerashub`,
`mmkeras.data.image_kerashub`), so the XLA-compiled model only sees token
ids or scaled pixels. Freezing:

* `trainable: false` (the default): no backbone weight changes in training
  (BatchNorm statistics included: a frozen layer runs in inference mode).
* `trainable: true`: every backbone weight is fine-tuned.
* `fine_tune_from: N`: only the top N blocks are fine-tuned (the
  backbone's transformer layers when it has them, else its top N layers
  that hold weights); everything below stays frozen.
"""

import keras

from mmkeras.encoders.kerashub_presets import PresetNames, from_preset
from mmkeras.encoders.registry import register_encoder
from mmkeras.errors import SpecError
from mmkeras.layers import MaskedMeanPooling

TEXT_POOLING = ("cls", "mean")
IMAGE_POOLING = ("mean", "cls")


@keras.saving.register_keras_serializable(package="mmkeras")
class TokenIdsToBackboneInputs(keras.layers.Layer):
    """Token ids -> the inputs of a KerasHub text backbone: ids, padding mask (ids != pad id), segment ids 0.

    Example:

    >>> out = TokenIdsToBackboneInputs(pad_token_id=0)(np.array([[2, 7, 3, 0]], "int32"))
    >>> out["padding_mask"].numpy().tolist(), out["segment_ids"].numpy().tolist()
    ([[True, True, True, False]], [[0, 0, 0, 0]])
    """

    def __init__(self, pad_token_id=0, **kwargs):
        super().__init__(**kwargs)
        self.pad_token_id = int(pad_token_id)

    def call(self, token_ids):
        token_ids = keras.ops.cast(token_ids, "int32")
        return {"token_ids": token_ids, "padding_mask": keras.ops.not_equal(token_ids, self.pad_token_id),
                "segment_ids": keras.ops.zeros_like(token_ids)}

    def get_config(self):
        return {**super().get_config(), "pad_token_id": self.pad_token_id}


@keras.saving.register_keras_serializable(package="mmkeras")
class FirstToken(keras.layers.Layer):
    """`[batch, tokens, features]` -> the first token's `[batch, features]` (BERT's [CLS], ViT's class token).

    Example:

    >>> FirstToken()(np.arange(12, dtype="float32").reshape(2, 3, 2)).numpy().tolist()
    [[0.0, 1.0], [6.0, 7.0]]
    """

    def call(self, inputs):
        return inputs[:, 0, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def backbone_blocks(backbone):
    """The backbone's blocks, bottom to top, that `fine_tune_from` counts.

    Its `transformer_layers` when it has them, else its layers that hold weights.

    Example:

    >>> from mmkeras.testing.kerashub import tiny_bert_preset
    >>> backbone = from_preset("Backbone", tiny_bert_preset(os.path.join(tmp_dir, "bert_blocks")))
    >>> [layer.name for layer in backbone_blocks(backbone)]
    ['transformer_layer_0', 'transformer_layer_1']
    """
    blocks = list(getattr(backbone, "transformer_layers", None) or [])
    return blocks or [layer for layer in backbone.layers if layer.weights]


def set_trainable(backbone, trainable=False, fine_tune_from=None, where="encoder"):
    """Freezes a backbone, fine-tunes all of it, or only its top `fine_tune_from` blocks.

    Args:
        backbone: a KerasHub `Backbone`.
        trainable: fine-tune every weight (ignored when `fine_tune_from` is given).
        fine_tune_from: fine-tune only the top N blocks (`backbone_blocks`); 0 freezes all.
        where: the spec field, for the error message.

    Returns:
        The blocks left trainable.

    Example:

    >>> from mmkeras.testing.kerashub import tiny_bert_preset
    >>> backbone = from_preset("Backbone", tiny_bert_preset(os.path.join(tmp_dir, "bert_top")))
    >>> [layer.name for layer in set_trainable(backbone, fine_tune_from=1)]
    ['transformer_layer_1']
    """
    if fine_tune_from is None:
        backbone.trainable = bool(trainable)
        return backbone_blocks(backbone) if trainable else []
    blocks = backbone_blocks(backbone)
    n = int(fine_tune_from)
    if not 0 <= n <= len(blocks):
        raise SpecError(f"{where}.fine_tune_from: {fine_tune_from!r} must be between 0 and {len(blocks)} "
                        f"(the backbone's blocks)")
    top = blocks[len(blocks) - n:] if n else []
    backbone.trainable = bool(top)
    for layer in backbone.layers:
        layer.trainable = False
    for layer in top:
        layer.trainable = True
    return top


def load_backbone(spec, preset, trainable, fine_tune_from):
    """The preset's backbone named `<input>_backbone` in the current dtype policy, frozen as asked.

    Example:

    >>> from mmkeras.testing.kerashub import tiny_bert_preset
    >>> s = mmkeras.specs.inputs.TextInputSpec(name="t", type="text", column="t",
    ...     encoder=mmkeras.specs.inputs.EncoderSpec(type="kerashub"))
    >>> b = load_backbone(s, tiny_bert_preset(os.path.join(tmp_dir, "bert_load")), False, None)
    >>> b.name, b.trainable
    ('t_backbone', False)
    """
    where = f"inputs.{spec.name}.encoder"
    backbone = from_preset("Backbone", preset, f"{where}.preset", name=f"{spec.name}_backbone",
                           dtype=keras.config.dtype_policy().name)
    set_trainable(backbone, trainable, fine_tune_from, where)
    return backbone


def _check_pooling(spec, pooling, allowed):
    if pooling not in allowed:
        raise SpecError(f"inputs.{spec.name}.encoder.pooling: {pooling!r} is not one of {', '.join(allowed)}")


@register_encoder("text", "kerashub")
def kerashub_text(x, spec, feature, *, preset=None, trainable=False, fine_tune_from=None, pooling="cls"):
    """A KerasHub text backbone (BERT, DistilBERT, RoBERTa...) from `preset`, pooled to one vector.

    `pooling: cls` takes the first token's output; `mean` averages the
    non-padding tokens. Tokenising is the preset's own, in the preprocessor.

    Example:

    >>> from mmkeras.testing.kerashub import tiny_bert_preset
    >>> bert = tiny_bert_preset(os.path.join(tmp_dir, "bert_enc"))
    >>> s = mmkeras.specs.inputs.TextInputSpec(name="t", type="text", column="t", sequence_length=8,
    ...     encoder=mmkeras.specs.inputs.EncoderSpec(type="kerashub", options={"preset": bert}))
    >>> feature = mmkeras.data.text.TextFeature(s).adapt(["a red cat"])
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(kerashub_text(x, s, feature, preset=bert, pooling="mean").shape)
    (None, 16)
    """
    _check_pooling(spec, pooling, TEXT_POOLING)
    backbone = load_backbone(spec, preset, trainable, fine_tune_from)
    inputs = TokenIdsToBackboneInputs(feature.pad_token_id, name="backbone_inputs")(x)
    inputs = {k: v for k, v in inputs.items() if k in backbone.input}
    outputs = backbone(inputs)
    sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
    if pooling == "cls":
        return FirstToken(name="cls_token")(sequence)
    return MaskedMeanPooling(name="masked_mean")(sequence, mask=inputs["padding_mask"])


@register_encoder("image", "kerashub")
def kerashub_image(x, spec, feature, *, preset=None, trainable=False, fine_tune_from=None, pooling="mean"):
    """A KerasHub image backbone (ResNet, ViT, EfficientNet...) from `preset`, pooled to one vector.

    The preset's image converter (resizing and scaling) runs in the
    preprocessor. `pooling: mean` averages the feature map (or the tokens of
    a ViT); `cls` takes a ViT's class token.

    Example:

    >>> from mmkeras.testing.kerashub import tiny_resnet_preset
    >>> resnet = tiny_resnet_preset(os.path.join(tmp_dir, "resnet_enc"))
    >>> s = mmkeras.specs.inputs.ImageInputSpec(name="p", type="image", column="p", height=16, width=16,
    ...     encoder=mmkeras.specs.inputs.EncoderSpec(type="kerashub", options={"preset": resnet}))
    >>> tuple(kerashub_image(keras.Input((16, 16, 3)), s, None, preset=resnet).shape)
    (None, 64)
    """
    _check_pooling(spec, pooling, IMAGE_POOLING)
    if feature is not None and getattr(feature, "converter", None) is None:  # e.g. a video's frame_encoder
        raise SpecError(f"inputs.{spec.name}: the kerashub image encoder needs its preset's image converter in "
                        "the preprocessor, which only image inputs have (not a video's frame_encoder)")
    backbone = load_backbone(spec, preset, trainable, fine_tune_from)
    features = backbone(x)
    if len(features.shape) == 4:
        if pooling == "cls":
            raise SpecError(f"inputs.{spec.name}.encoder.pooling: cls needs a backbone with a class token "
                            "(ViT); this one gives a feature map: use mean")
        return keras.layers.GlobalAveragePooling2D(name="mean_pool")(features)
    if pooling == "cls":
        return FirstToken(name="cls_token")(features)
    return keras.layers.GlobalAveragePooling1D(name="mean_pool")(features)


for _encoder in (kerashub_text, kerashub_image):
    _encoder.path_options = {"preset": PresetNames()}  # the loader makes preset folders relative to the spec
