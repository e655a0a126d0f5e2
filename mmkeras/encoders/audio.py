"""Audio encoders (over `[frames, n_mels]` features)."""

import keras

from mmkeras.encoders.registry import register_encoder


@register_encoder("audio", "cnn")
def cnn(x, spec, feature, *, filters=(16, 32, 64), kernel_size=3, dense_units=128, dropout=0.0):
    """2D Conv-ReLU-MaxPool blocks over the spectrogram (time x mel), then Flatten and a dense layer."""
    x = keras.layers.Reshape(tuple(feature.shape) + (1,), name="add_channel")(x)
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(int(f), kernel_size, padding="same", activation="relu", name=f"conv_{i}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.layers.Dense(int(dense_units), activation="relu", name="dense")(x)
