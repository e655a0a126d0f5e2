"""Layers for missing inputs: a learned "missing" embedding and modality dropout.

Both work on the `"_presence"` model input (`[batch, n_inputs]`, 1 = present,
0 = missing) and are XLA-compilable (no string ops; random numbers from
`keras.random` with a `SeedGenerator`).
"""

import numbers

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mmkeras")
class MissingEmbedding(keras.layers.Layer):
    """Replaces an encoder's output by a learned vector in the rows where the input is missing.

    `out[b] = encoded[b]` where `presence[b] > 0`, else the layer's own
    trainable vector `embedding` (`[features]`, initialised to zeros). The
    replacement is a `where`, so a missing row's encoder output (whatever
    it is, NaN included) never reaches the result, and no other row's data
    is used.

    Args:
        index: when given, `presence` is the whole `[batch, n_inputs]` matrix
            and column `index` is used; otherwise `presence` is `[batch]` or
            `[batch, 1]`.
        initializer: initializer of the embedding (default zeros).

    Call arguments:
        encoded: `[batch, features]` encoder output.
        presence: 1 = present, 0 = missing (see `index`).

    Example:

    >>> layer = MissingEmbedding()
    >>> out = layer(keras.ops.ones([3, 4]), keras.ops.convert_to_tensor([1.0, 0.0, 1.0]))
    >>> out[1].numpy()   # the missing row: the learned vector (zeros before training)
    array([0., 0., 0., 0.], dtype=float32)
    """

    def __init__(self, index=None, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if index is not None and (isinstance(index, bool) or not isinstance(index, numbers.Integral) or index < 0):
            raise ValueError(f"`index` must be None or a non-negative integer, got {index!r}.")
        self.index = None if index is None else int(index)
        self.initializer = keras.initializers.get(initializer)

    def build(self, encoded_shape, presence_shape=None):
        if len(encoded_shape) != 2 or encoded_shape[-1] is None:
            raise ValueError(f"MissingEmbedding {self.name!r} expects [batch, features] with a known feature "
                             f"size, got {tuple(encoded_shape)}.")
        self.embedding = self.add_weight(name="embedding", shape=(int(encoded_shape[-1]),),
                                         initializer=self.initializer, trainable=True)

    def column(self, presence):
        """The `[batch, 1]` presence column of this input."""
        presence = ops.convert_to_tensor(presence)
        if self.index is not None:
            presence = presence[:, self.index]
        return ops.reshape(presence, (-1, 1))

    def call(self, encoded, presence):
        present = ops.cast(self.column(presence), "float32") > 0
        fill = ops.cast(self.embedding, encoded.dtype)[None, :]
        return ops.where(present, encoded, ops.broadcast_to(fill, ops.shape(encoded)))

    def compute_output_shape(self, encoded_shape, presence_shape=None):
        return encoded_shape

    def get_config(self):
        return {**super().get_config(), "index": self.index,
                "initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable(package="mmkeras")
class ModalityDropout(keras.layers.Layer):
    """Training only: sets whole inputs of a row to missing at random.

    In training each presence entry `[b, i]` is set to 0 with probability
    `rates[i]` (inputs already missing stay missing). A row never loses
    all of its present inputs: when every present input of a row would be
    dropped, one of them, chosen at random, is kept (so the realised drop
    rate is slightly below `rates[i]`). At inference the presence passes
    through unchanged.

    Args:
        rates: one drop probability in [0, 1) per input (spec input order).
        seed: seed of the layer's `SeedGenerator`.

    Call arguments:
        presence: `[batch, n_inputs]` float presence.
        training: dropping happens only when True.

    Example:

    >>> drop = ModalityDropout([0.3, 0.3])
    >>> dropped = drop(keras.ops.ones([64, 2]), training=True).numpy()   # some entries 0, never a whole row
    >>> bool((dropped == 0).any()), bool((dropped.sum(axis=1) > 0).all())
    (True, True)
    >>> bool((drop(keras.ops.ones([64, 2]), training=False).numpy() == 1).all())   # all kept
    True
    """

    def __init__(self, rates, seed=None, **kwargs):
        super().__init__(**kwargs)
        rates = [float(r) for r in rates]
        for i, r in enumerate(rates):
            if not 0.0 <= r < 1.0:
                raise ValueError(f"ModalityDropout: rate {i} must be in [0, 1), got {r!r}.")
        if not rates:
            raise ValueError("ModalityDropout needs one rate per input, got none.")
        self.rates = rates
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, presence_shape):
        if len(presence_shape) != 2 or presence_shape[-1] != len(self.rates):
            raise ValueError(f"ModalityDropout {self.name!r} has {len(self.rates)} rates but got presence "
                             f"of shape {tuple(presence_shape)}; expected [batch, {len(self.rates)}].")

    def call(self, presence, training=None):
        if not training or not any(self.rates):
            return presence
        presence = ops.convert_to_tensor(presence)
        mask = ops.cast(presence, "float32")
        shape = ops.shape(mask)
        rates = ops.convert_to_tensor(self.rates, dtype="float32")[None, :]
        draw = keras.random.uniform(shape, seed=self.seed_generator)
        kept = mask * ops.cast(draw >= rates, "float32")
        # Rows that had a present input but would lose all: keep one present input at random.
        emptied = ops.logical_and(ops.sum(kept, axis=1, keepdims=True) <= 0,
                                  ops.sum(mask, axis=1, keepdims=True) > 0)
        pick = keras.random.uniform(shape, seed=self.seed_generator) * mask - (1.0 - mask)
        chosen = ops.one_hot(ops.argmax(pick, axis=1), len(self.rates), dtype="float32") * mask
        kept = ops.where(emptied, chosen, kept)
        return ops.cast(kept, presence.dtype)

    def compute_output_shape(self, presence_shape):
        return presence_shape

    def get_config(self):
        return {**super().get_config(), "rates": list(self.rates), "seed": self.seed}
