"""Audio encoders over `[frames, bins]` features, or `[samples, 1]` for `features: waveform`.

* `cnn`: 2D convolutions over the spectrogram (time x bands).
* `cnn1d`: 1D convolutions over time, the bands as channels; on a raw
  waveform a wide strided first layer (M5, Dai et al. 2017).
* `crnn`: convolutions, then a GRU over the remaining time steps.

All compile with XLA.
"""

import keras

from mmkeras.encoders.registry import register_encoder
from mmkeras.errors import SpecError
from mmkeras.layers import recurrent

# Batch-norm statistics that settle within a few hundred steps: with Keras'
# default 0.99 a short run (av_digits, 3 epochs: ~100 steps) evaluates with
# moving averages still far from the data's.
BN_MOMENTUM = 0.9


def _pool_2d(height, width):
    """2x2 pooling, but never below 1 along an axis (chroma has 12 bands, mfcc 13-20)."""
    return (2 if height >= 2 else 1, 2 if width >= 2 else 1)


def _is_waveform(spec):
    return spec.features == "waveform"


@register_encoder("audio", "cnn")
def cnn(x, spec, feature, *, filters=(16, 32, 64), kernel_size=3, dense_units=128, dropout=0.0):
    """2D Conv-ReLU-MaxPool blocks over the spectrogram (time x bands), then Flatten and a dense layer.

    Example:

    >>> feature = pre.features["sound"]
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(cnn(x, spec.inputs["sound"], feature, filters=[4], dense_units=8).shape)
    (None, 8)
    """
    if _is_waveform(spec):
        raise SpecError(f"inputs.{spec.name}: the audio encoder 'cnn' is 2D over a spectrogram; "
                        "features: waveform needs cnn1d or crnn")
    height, width = feature.shape
    x = keras.layers.Reshape((height, width, 1), name="add_channel")(x)
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(int(f), kernel_size, padding="same", activation="relu", name=f"conv_{i}")(x)
        pool = _pool_2d(height, width)
        x = keras.layers.MaxPooling2D(pool, name=f"pool_{i}")(x)
        height, width = height // pool[0], width // pool[1]
    x = keras.layers.Flatten(name="flatten")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.layers.Dense(int(dense_units), activation="relu", name="dense")(x)


def _conv1d_blocks(x, spec, filters, kernel_size, first_kernel_size, first_stride, pool_size):
    """Conv1D-BatchNorm-ReLU-MaxPool blocks; the first may be wide and strided (waveforms)."""
    waveform = _is_waveform(spec)
    first_kernel_size = first_kernel_size or (80 if waveform else kernel_size)
    first_stride = first_stride or (4 if waveform else 1)
    pool_size = pool_size or (4 if waveform else 2)
    for i, f in enumerate(filters):
        x = keras.layers.Conv1D(int(f), first_kernel_size if i == 0 else kernel_size,
                                strides=first_stride if i == 0 else 1, padding="same", use_bias=False,
                                name=f"conv_{i}")(x)
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"norm_{i}")(x)
        x = keras.layers.Activation("relu", name=f"relu_{i}")(x)
        if x.shape[1] >= pool_size:
            x = keras.layers.MaxPooling1D(pool_size, name=f"pool_{i}")(x)
    return x


@register_encoder("audio", "cnn1d")
def cnn1d(x, spec, feature, *, filters=(32, 64, 128), kernel_size=3, first_kernel_size=None,
          first_stride=None, pool_size=None, dense_units=128, dropout=0.0):
    """1D Conv-BatchNorm-ReLU-MaxPool blocks over time, global average pooling, a dense layer.

    Spectral features: the bands are the channels, `first_kernel_size`
    defaults to `kernel_size`, `first_stride` to 1 and `pool_size` to 2.
    Waveforms (`[samples, 1]`): 80, 4 and 4 (the M5 network).

    Example:

    >>> feature = pre.features["sound"]
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(cnn1d(x, spec.inputs["sound"], feature, filters=[4], dense_units=8).shape)
    (None, 8)
    """
    x = _conv1d_blocks(x, spec, filters, kernel_size, first_kernel_size, first_stride, pool_size)
    x = keras.layers.GlobalAveragePooling1D(name="average")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.layers.Dense(int(dense_units), activation="relu", name="dense")(x)


@register_encoder("audio", "crnn")
def crnn(x, spec, feature, *, filters=(32, 64), kernel_size=3, gru_units=64, bidirectional=False, dropout=0.0):
    """Convolutions, then a GRU over time; returns the GRU's outputs averaged over time.

    Spectral features: Conv2D-BatchNorm-ReLU-MaxPool(2x2) blocks, the bands
    and channels of each remaining frame flattened into one vector per step.
    Waveforms: the `cnn1d` blocks (a wide strided first layer, pooling by 4).
    `bidirectional` runs a second GRU backwards (outputs concatenated).

    Example:

    >>> feature = pre.features["sound"]
    >>> x = keras.Input(feature.shape, dtype=feature.dtype)
    >>> tuple(crnn(x, spec.inputs["sound"], feature, filters=[4], gru_units=4, bidirectional=True).shape)
    (None, 8)
    """
    if _is_waveform(spec):
        x = _conv1d_blocks(x, spec, filters, kernel_size, None, None, None)
    else:
        height, width = feature.shape
        x = keras.layers.Reshape((height, width, 1), name="add_channel")(x)
        for i, f in enumerate(filters):
            x = keras.layers.Conv2D(int(f), kernel_size, padding="same", use_bias=False, name=f"conv_{i}")(x)
            x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"norm_{i}")(x)
            x = keras.layers.Activation("relu", name=f"relu_{i}")(x)
            x = keras.layers.MaxPooling2D(_pool_2d(x.shape[1], x.shape[2]), name=f"pool_{i}")(x)
        x = keras.layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]), name="frames")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    # cuDNN kernels cannot be XLA-compiled: on a GPU Keras would mark the model not jit-compilable.
    gru = keras.layers.GRU(int(gru_units), return_sequences=True, use_cudnn=False, name="gru")
    if bidirectional:
        gru = recurrent.bidirectional(gru, name="bigru")
    return keras.layers.GlobalAveragePooling1D(name="average")(gru(x))
