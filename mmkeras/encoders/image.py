"""Image encoders."""

import keras

from mmkeras.encoders.registry import register_encoder


@register_encoder("image", "cnn")
def cnn(x, spec, feature, *, filters=(32, 64), kernel_size=3, dense_units=128, dropout=0.0):
    """Conv-ReLU-MaxPool blocks, then Flatten (keeping the spatial layout) and a dense layer."""
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(int(f), kernel_size, padding="same", activation="relu", name=f"conv_{i}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.layers.Dense(int(dense_units), activation="relu", name="dense")(x)
