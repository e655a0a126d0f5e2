"""`keras.applications` backbones as image encoders (`resnet50`, `mobilenet_v3_small`, ...).

Every backbone is registered as an image encoder type of its own name, with
the options `weights` (null, imagenet or a `.weights.h5` file), `trainable`,
`fine_tune_from`, `pooling`, `dropout` and `dense_units`. The pipeline gives
images in [0, 1]; `BackboneInput` turns them, inside the model, into what the
backbone was trained on (0..255, gray tiled to RGB, at least its minimum size,
then the backbone's own `preprocess_input`), so a pretrained backbone sees
the values it expects and the model still takes the pipeline's tensors.
"""

import collections
import os
import warnings

import keras

from mmkeras.encoders.image import check_choice
from mmkeras.encoders.registry import register_encoder
from mmkeras.errors import SpecError

Backbone = collections.namedtuple("Backbone", "constructor module min_size")

# encoder type -> (keras.applications constructor, module with its preprocess_input, smallest side).
# mobilenet_v3, efficientnet(_v2) and convnext scale 0..255 inputs themselves (their
# preprocess_input is the identity); resnet50 is "caffe" (BGR, ImageNet means subtracted),
# resnet_v2 and mobilenet_v2 "tf" ([-1, 1]), densenet "torch" (ImageNet mean/std).
BACKBONES = {
    "resnet50": Backbone("ResNet50", "resnet50", 32),
    "resnet101": Backbone("ResNet101", "resnet", 32),
    "resnet50_v2": Backbone("ResNet50V2", "resnet_v2", 32),
    "mobilenet_v2": Backbone("MobileNetV2", "mobilenet_v2", 32),
    "mobilenet_v3_small": Backbone("MobileNetV3Small", "mobilenet_v3", 32),
    "mobilenet_v3_large": Backbone("MobileNetV3Large", "mobilenet_v3", 32),
    "efficientnet_b0": Backbone("EfficientNetB0", "efficientnet", 32),
    "efficientnet_b1": Backbone("EfficientNetB1", "efficientnet", 32),
    "efficientnet_v2_b0": Backbone("EfficientNetV2B0", "efficientnet_v2", 32),
    "densenet121": Backbone("DenseNet121", "densenet", 32),
    "convnext_tiny": Backbone("ConvNeXtTiny", "convnext", 32),
}
POOLINGS = ("avg", "max")


def preprocess_function(backbone):
    """The `keras.applications` `preprocess_input` of a backbone (takes 0..255 RGB).

    Example:

    >>> preprocess_function("mobilenet_v3_small").__module__
    'keras.src.applications.mobilenet_v3'
    """
    return getattr(keras.applications, BACKBONES[backbone].module).preprocess_input


@keras.saving.register_keras_serializable(package="mmkeras")
class BackboneInput(keras.layers.Layer):
    """Images in [0, 1] -> the input a `keras.applications` backbone expects.

    Scales to 0..255, repeats a single gray channel to RGB, resizes
    (bilinear) to `height` x `width` when the image differs (backbones have a
    minimum size), then applies the backbone's own `preprocess_input`. All
    plain tensor ops, so it compiles with XLA.

    Args:
        backbone: a key of `BACKBONES`, e.g. "resnet50".
        height, width: the size the backbone is built for.

    Example:

    >>> layer = BackboneInput("resnet50", 32, 32)
    >>> tuple(layer(np.ones([2, 16, 16, 1], "float32")).shape)
    (2, 32, 32, 3)
    """

    def __init__(self, backbone, height, width, **kwargs):
        super().__init__(**kwargs)
        if backbone not in BACKBONES:
            raise ValueError(f"backbone {backbone!r} is not one of {', '.join(BACKBONES)}")
        self.backbone = backbone
        self.height = int(height)
        self.width = int(width)

    def call(self, images):
        x = keras.ops.cast(images, self.compute_dtype) * 255.0
        if x.shape[-1] == 1:
            x = keras.ops.concatenate([x, x, x], axis=-1)
        if tuple(x.shape[1:3]) != (self.height, self.width):
            x = keras.ops.image.resize(x, (self.height, self.width), interpolation="bilinear",
                                       data_format="channels_last")
        return preprocess_function(self.backbone)(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, 3)

    def get_config(self):
        return {**super().get_config(), "backbone": self.backbone, "height": self.height, "width": self.width}


def _check_options(spec, weights, trainable, fine_tune_from, pooling):
    if spec.channels not in (1, 3):
        raise SpecError(f"Input {spec.name!r}: pretrained backbones take channels 1 or 3, got {spec.channels}")
    check_choice(spec, "pooling", pooling, POOLINGS)
    if weights not in (None, "imagenet") and not (isinstance(weights, str) and os.path.isfile(weights)):
        raise SpecError(f"Input {spec.name!r}: encoder option weights={weights!r} is not null, imagenet "
                        "or an existing weights file (a .weights.h5 saved from the same backbone; "
                        "relative paths are taken from the spec file)")
    if trainable not in (None, True, False):
        raise SpecError(f"Input {spec.name!r}: encoder option trainable={trainable!r} is not true, false or null")
    if fine_tune_from is not None:
        if isinstance(fine_tune_from, bool) or not isinstance(fine_tune_from, int) or fine_tune_from < 1:
            raise SpecError(f"Input {spec.name!r}: encoder option fine_tune_from={fine_tune_from!r} "
                            "is not a positive integer (the number of top layers to train)")
        if trainable is True:
            raise SpecError(f"Input {spec.name!r}: fine_tune_from={fine_tune_from} unfreezes the top layers of "
                            "a frozen backbone, but trainable is true (everything trains); drop one of them")


def backbone_encoder(name, x, spec, *, weights=None, trainable=None, fine_tune_from=None, pooling="avg",
                     dropout=0.0, dense_units=0):
    """A `keras.applications` backbone (no top) on an image input; see `register_backbone`.

    Example:

    >>> x = keras.Input((32, 32, 3))
    >>> tuple(backbone_encoder("mobilenet_v3_small", x, spec.inputs["picture"], dense_units=8).shape)
    (None, 8)
    """
    _check_options(spec, weights, trainable, fine_tune_from, pooling)
    info = BACKBONES[name]
    height, width = max(spec.height, info.min_size), max(spec.width, info.min_size)
    constructor = getattr(keras.applications, info.constructor)
    backbone = constructor(include_top=False, weights="imagenet" if weights == "imagenet" else None,
                           input_shape=(height, width, 3), pooling=pooling)
    backbone.name = name  # some constructors use their `name` argument as a lookup key
    if weights not in (None, "imagenet"):
        try:
            with warnings.catch_warnings():  # Keras warns once per layer before raising one error
                warnings.simplefilter("ignore", UserWarning)
                backbone.load_weights(weights)
        except Exception as e:  # h5py/Keras raise many types; name the input and the file
            reason = " ".join(str(e).split("\n\n")[:2])
            raise SpecError(f"Input {spec.name!r}: cannot load weights file {weights} into a {name} backbone "
                            f"built for {height}x{width}x3 (save it with `backbone.save_weights` from the same "
                            f"keras.applications model): {reason}") from e
    if trainable is None:  # train from scratch; keep pretrained (or fine-tuned) weights frozen
        trainable = weights is None and fine_tune_from is None
    backbone.trainable = bool(trainable or fine_tune_from)
    if fine_tune_from:
        layers = backbone.layers[1:]  # not the InputLayer
        if fine_tune_from > len(layers):
            raise SpecError(f"Input {spec.name!r}: fine_tune_from={fine_tune_from} but {name} has only "
                            f"{len(layers)} layers")
        for i, layer in enumerate(layers):
            # BatchNormalization stays frozen (inference mode) so fine-tuning keeps its statistics.
            top = i >= len(layers) - fine_tune_from
            layer.trainable = top and not isinstance(layer, keras.layers.BatchNormalization)
    x = BackboneInput(name, height, width, name="backbone_input")(x)
    x = backbone(x)
    if dropout:
        x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    if dense_units:
        x = keras.layers.Dense(int(dense_units), activation="relu", name="dense")(x)
    return x


def register_backbone(name):
    """Registers `BACKBONES[name]` as the image encoder type `name` (done for every backbone on import).

    Example:

    >>> "resnet50" in mmkeras.encoders.ENCODERS.names_for("image")
    True
    """
    info = BACKBONES[name]

    def encoder(x, spec, feature, *, weights=None, trainable=None, fine_tune_from=None, pooling="avg",
                dropout=0.0, dense_units=0):
        return backbone_encoder(name, x, spec, weights=weights, trainable=trainable,
                                fine_tune_from=fine_tune_from, pooling=pooling, dropout=dropout,
                                dense_units=dense_units)

    encoder.__name__ = name
    encoder.__doc__ = f"""`keras.applications.{info.constructor}` without its top, then global pooling.

    Args:
        x: `[batch, height, width, channels]` float32 in [0, 1] (channels 1 or 3; sides below
            {info.min_size} are resized up inside the model).
        spec: the image input's spec.
        feature: its `ImageFeature`.
        weights: null (random init), `imagenet` (downloaded once by Keras, or from its cache) or
            the path of a `.weights.h5` file saved from the same backbone (relative to the spec).
        trainable: train the backbone; default true with `weights: null`, else false.
        fine_tune_from: N: freeze the backbone except its top N layers (BatchNormalization stays
            frozen).
        pooling: global pooling of the last feature map: `avg` or `max`.
        dropout: dropout rate after pooling.
        dense_units: width of a ReLU dense layer after the backbone (0: none).

    Returns:
        One vector per image.

    Example:

    >>> spec_dict = spec.to_dict()
    >>> spec_dict["inputs"]["picture"]["encoder"] = {{"type": "{name}", "weights": None, "fine_tune_from": 20}}
    >>> mmkeras.load_spec(spec_dict).inputs["picture"].encoder.type
    '{name}'
    """
    encoder.path_options = {"weights": ("imagenet",)}  # the loader makes weights files relative to the spec
    return register_encoder("image", name)(encoder)


for _name in BACKBONES:
    register_backbone(_name)
