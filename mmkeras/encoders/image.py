"""Image encoders trained from scratch (`cnn`, `mlp`); `image_backbones` holds the pretrained ones.

They take the pipeline's `[batch, height, width, channels]` float32 in [0, 1]
as is.
"""

import keras

from mmkeras.encoders.registry import register_encoder
from mmkeras.errors import SpecError

POOLINGS = ("max", "average", "none")
GLOBAL_POOLINGS = ("flatten", "average", "max")


def check_choice(spec, option, value, choices):
    """Raises a SpecError naming the input, the option, the value and what is allowed.

    Example:

    >>> check_choice(spec.inputs["picture"], "pooling", "min", ("avg", "max"))
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: Input 'picture': encoder option pooling='min' is not one of avg, max
    """
    if value not in choices:
        raise SpecError(f"Input {spec.name!r}: encoder option {option}={value!r} is not one of "
                        f"{', '.join(map(str, choices))}")


def check_units(spec, option, values, *, allow_empty=False):
    """`values` (an int or a list of ints) -> a tuple of positive ints, or a SpecError.

    Example:

    >>> check_units(spec.inputs["picture"], "filters", 16), check_units(spec.inputs["picture"], "filters", [8, 16])
    ((16,), (8, 16))
    """
    values = (values,) if isinstance(values, int) else tuple(values or ())
    if (not values and not allow_empty) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                   for v in values):
        raise SpecError(f"Input {spec.name!r}: encoder option {option}={list(values)!r} is not a "
                        f"{'' if allow_empty else 'non-empty '}list of positive integers")
    return values


@register_encoder("image", "cnn")
def cnn(x, spec, feature, *, filters=(32, 64), convs_per_block=1, kernel_size=3, batch_norm=False,
        pooling="max", global_pooling="flatten", dense_units=128, dropout=0.0):
    """Convolution blocks, then a global step and a dense layer.

    One block per entry of `filters`: `convs_per_block` Conv2D layers
    (`same` padding; with `batch_norm`, each Conv2D -> BatchNormalization
    -> ReLU, else a ReLU Conv2D), then a 2x2 pooling step. After the
    blocks, `global_pooling` makes one vector per image.

    Args:
        x: `[batch, height, width, channels]` float32 in [0, 1].
        spec: the image input's spec.
        feature: its `ImageFeature`.
        filters: Conv2D filters per block, e.g. `[32, 64]` (two blocks).
        convs_per_block: Conv2D layers in each block.
        kernel_size: Conv2D kernel size.
        batch_norm: BatchNormalization after each Conv2D.
        pooling: downsampling after each block: `max`, `average` or `none`.
        global_pooling: `flatten` (keeps the spatial layout), `average` or `max`.
        dense_units: width of the final ReLU dense layer (0: none).
        dropout: dropout rate before the dense layer.

    Returns:
        One vector per image.

    Example:

    >>> x = keras.Input(pre.features["picture"].shape)   # encoder: {type: cnn, filters: [4, 8], ...}
    >>> encoded = cnn(x, spec.inputs["picture"], pre.features["picture"], filters=[4, 8], convs_per_block=2,
    ...               batch_norm=True, global_pooling="average", dense_units=8)
    >>> tuple(encoded.shape)
    (None, 8)
    """
    filters = check_units(spec, "filters", filters)
    check_choice(spec, "pooling", pooling, POOLINGS)
    check_choice(spec, "global_pooling", global_pooling, GLOBAL_POOLINGS)
    convs_per_block = check_units(spec, "convs_per_block", convs_per_block)[0]
    for i, f in enumerate(filters):
        for j in range(convs_per_block):
            name = f"conv_{i}" if convs_per_block == 1 else f"conv_{i}_{j}"
            if batch_norm:
                x = keras.layers.Conv2D(f, kernel_size, padding="same", use_bias=False, name=name)(x)
                x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
                x = keras.layers.ReLU(name=f"{name}_relu")(x)
            else:
                x = keras.layers.Conv2D(f, kernel_size, padding="same", activation="relu", name=name)(x)
        if pooling == "max":
            x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
        elif pooling == "average":
            x = keras.layers.AveragePooling2D(2, name=f"pool_{i}")(x)
    if global_pooling == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    elif global_pooling == "average":
        x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    else:
        x = keras.layers.GlobalMaxPooling2D(name="global_pool")(x)
    if dropout:
        x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    if dense_units:
        x = keras.layers.Dense(int(dense_units), activation="relu", name="dense")(x)
    return x


@register_encoder("image", "mlp")
def mlp(x, spec, feature, *, units=(256, 128), dropout=0.0):
    """The flattened pixels through ReLU dense layers.

    Args:
        x: `[batch, height, width, channels]` float32 in [0, 1].
        spec: the image input's spec.
        feature: its `ImageFeature`.
        units: widths of the dense layers.
        dropout: dropout rate after each dense layer.

    Returns:
        One vector per image.

    Example:

    >>> x = keras.Input(pre.features["picture"].shape)   # encoder: {type: mlp, units: [8], dropout: 0.2}
    >>> tuple(mlp(x, spec.inputs["picture"], pre.features["picture"], units=[8], dropout=0.2).shape)
    (None, 8)
    """
    units = check_units(spec, "units", units)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, u in enumerate(units):
        x = keras.layers.Dense(u, activation="relu", name=f"dense_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(float(dropout), name=f"dropout_{i}")(x)
    return x
