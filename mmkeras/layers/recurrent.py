"""Recurrent layers that stay XLA-compilable on a GPU."""

import keras


def bidirectional(rnn, name):
    """`keras.layers.Bidirectional(rnn)` whose two copies keep `rnn`'s `use_cudnn=False`.

    cuDNN kernels cannot be XLA-compiled, so the encoders build their GRU and
    LSTM layers with `use_cudnn=False`. `Bidirectional` rebuilds the forward
    and backward copies from the layer's config, which has no `use_cudnn`:
    on a GPU Keras marks them not jit-compilable before copying the flag
    back, and `compile_model` would find XLA off. With cuDNN off they
    compile, so they are marked so again.

    Args:
        rnn: a GRU or LSTM layer built with `use_cudnn=False`.
        name: the name of the `Bidirectional` layer.

    Returns:
        The `Bidirectional` layer (outputs of the two directions concatenated).

    Example:

    >>> layer = bidirectional(keras.layers.GRU(4, use_cudnn=False), name="bigru")
    >>> [(rnn.use_cudnn, rnn.supports_jit) for rnn in (layer.forward_layer, layer.backward_layer)]
    [(False, True), (False, True)]
    """
    if getattr(rnn, "use_cudnn", None) is not False:
        raise ValueError(f"{rnn.name}: build the layer with use_cudnn=False (cuDNN kernels cannot be XLA-compiled).")
    layer = keras.layers.Bidirectional(rnn, name=name)
    for copy in (layer.forward_layer, layer.backward_layer):
        copy.supports_jit = True
    return layer
