"""Fusion layers: join one vector per input into a single vector.

Every fusion layer is a `FusionLayer`: it is called on a list of per-input
vectors `[batch, d_i]` (the spec's input order) and an optional list of
per-input presence flags, joins them (`fuse`, one per subclass) and applies
the shared post-fusion MLP (`hidden_units` ReLU dense layers, each followed
by dropout). A missing input (presence 0) never influences the output.
"""

import numbers

import keras
from keras import ops


def as_list(inputs, what="inputs"):
    """A list of per-input tensors (or shapes); a dict is taken in sorted key order.

    Example:

    >>> as_list({"b": 2.0, "a": 1.0})
    [1.0, 2.0]
    """
    if isinstance(inputs, dict):
        return [inputs[k] for k in sorted(inputs)]
    if isinstance(inputs, (list, tuple)) and inputs and not isinstance(inputs[0], (int, type(None))):
        return list(inputs)
    raise ValueError(f"A fusion layer expects `{what}` as a non-empty list of [batch, features] "
                     f"tensors (one per input), got {inputs!r}.")


def masked_softmax(logits, mask):
    """Softmax over the last axis among entries with `mask > 0`, computed in float32.

    Masked entries get weight 0 and do not change the others; a row with
    every entry masked gives all zeros (not NaN).

    Args:
        logits: `[..., n]` scores.
        mask: `[..., n]` presence (1 present, 0 missing), broadcastable to `logits`.

    Returns:
        `[..., n]` float32 weights summing to 1 over the present entries.

    Example:

    >>> masked_softmax(keras.ops.zeros([1, 3]), keras.ops.convert_to_tensor([[1.0, 0.0, 1.0]])).numpy()
    array([[0.5, 0. , 0.5]], dtype=float32)
    """
    logits = ops.cast(logits, "float32")
    present = ops.cast(mask, "float32") > 0
    logits = ops.where(present, logits, -1e9)
    logits = logits - ops.max(logits, axis=-1, keepdims=True)
    weights = ops.where(present, ops.exp(logits), 0.0)
    return weights / ops.maximum(ops.sum(weights, axis=-1, keepdims=True), 1e-30)


def positive_int(value, name, allow_none=False):
    """`value` as an int, or a ValueError naming `name` unless it is an integer >= 1 (or None if allowed).

    Example:

    >>> positive_int(np.int64(4), "units"), positive_int(None, "projection_units", allow_none=True)
    (4, None)
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        allowed = "a positive integer or None" if allow_none else "a positive integer"
        raise ValueError(f"`{name}` must be {allowed}, got {value!r}.")
    return int(value)


@keras.saving.register_keras_serializable(package="mmkeras")
class FusionLayer(keras.layers.Layer):
    """Base class of fusion layers: `fuse` the inputs, then a ReLU MLP with dropout.

    Subclasses implement `build_fusion(widths)` (create sub-layers and
    weights for inputs of widths `widths`), `fused_width(widths)` and
    `fuse(tensors, mask, training)`, where `mask` is `[batch, n]` in the
    compute dtype (1 present, 0 missing). `fuse` must not let a missing
    input's values reach its result.

    Args:
        hidden_units: sizes of the ReLU dense layers after fusion (may be empty).
        dropout: dropout rate after each dense layer (training only).

    Call arguments:
        inputs: list of `[batch, d_i]` tensors, one per input (a dict is
            taken in sorted key order).
        presence: None (all inputs present) or a list of `[batch]` float
            tensors, one per input: 1 = present, 0 = missing.
        training: whether dropout is active.

    Returns:
        `[batch, hidden_units[-1]]`, or the fused width without hidden units.

    Example:

    >>> class MaxFusion(FusionLayer):   # inputs of equal width
    ...     def fused_width(self, widths):
    ...         return widths[0]
    ...     def fuse(self, tensors, mask, training=None):
    ...         kept = [keras.ops.where(mask[:, i:i + 1] > 0, t, -1e9) for i, t in enumerate(tensors)]
    ...         return keras.ops.max(keras.ops.stack(kept), axis=0)
    >>> tuple(MaxFusion(hidden_units=[4])([keras.ops.ones([2, 3]), keras.ops.zeros([2, 3])]).shape)
    (2, 4)
    """

    def __init__(self, hidden_units=(128,), dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = [positive_int(u, "hidden_units") for u in hidden_units]
        self.dropout = float(dropout)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
        self.dense = [keras.layers.Dense(u, activation="relu", dtype=self.dtype_policy, name=f"dense_{i}")
                      for i, u in enumerate(self.hidden_units)]
        self.drop = [keras.layers.Dropout(self.dropout, dtype=self.dtype_policy) for _ in self.hidden_units]

    # -- for subclasses ---------------------------------------------------
    def build_fusion(self, widths):
        """Creates the fusion's own sub-layers and weights for input widths `widths`."""

    def fused_width(self, widths):
        """Width of `fuse`'s result for input widths `widths`."""
        raise NotImplementedError

    def fuse(self, tensors, mask, training=None):
        """Joins the list `tensors` into one `[batch, fused_width]` tensor, honouring `mask`."""
        raise NotImplementedError

    # -- shared machinery -------------------------------------------------
    def build(self, input_shape):
        shapes = as_list(input_shape)
        widths = []
        for i, shape in enumerate(shapes):
            if len(shape) != 2 or shape[-1] is None:
                raise ValueError(f"Fusion layer {self.name!r}: input {i} must be [batch, features] with a "
                                 f"known feature size, got shape {tuple(shape)}.")
            widths.append(int(shape[-1]))
        self.build_fusion(widths)
        width = self.fused_width(widths)
        for dense in self.dense:
            dense.build((None, width))
            width = dense.units

    def presence_mask(self, tensors, presence):
        """`[batch, n]` presence in the compute dtype; all ones when `presence` is None."""
        if presence is None:
            return ops.ones_like(ops.stack([t[:, 0] for t in tensors], axis=1))
        presence = as_list(presence, "presence")
        if len(presence) != len(tensors):
            raise ValueError(f"Fusion layer {self.name!r} got {len(tensors)} inputs but {len(presence)} "
                             "presence tensors; pass one [batch] presence tensor per input.")
        return ops.cast(ops.stack([ops.reshape(p, (-1,)) for p in presence], axis=1), self.compute_dtype)

    @staticmethod
    def zero_missing(tensors, mask):
        """Each tensor with the rows of missing inputs set to 0 (NaN or inf included)."""
        return [ops.where(mask[:, i:i + 1] > 0, t, ops.zeros_like(t)) for i, t in enumerate(tensors)]

    def call(self, inputs, presence=None, training=None):
        tensors = as_list(inputs)
        x = self.fuse(tensors, self.presence_mask(tensors, presence), training=training)
        for dense, drop in zip(self.dense, self.drop):
            x = drop(dense(x), training=training)
        return x

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="mmkeras")
class ProjectedFusion(FusionLayer):
    """Base of fusions that first project every input to `projection_units`.

    `project` maps input `i` through its own `Dense(projection_units,
    activation=self.projection_activation)` and zeroes the result where the
    input is missing (so neither its values nor the projection bias count).

    Args:
        projection_units: common width of the projected inputs; None: the
            widest input's width.
        hidden_units, dropout: the post-fusion MLP (see `FusionLayer`).

    Example:

    >>> class ProductFusion(ProjectedFusion):
    ...     def fused_width(self, widths):
    ...         return self.units
    ...     def fuse(self, tensors, mask, training=None):
    ...         return keras.ops.prod(keras.ops.stack(self.project(tensors, mask)), axis=0)
    >>> tuple(ProductFusion(hidden_units=[], projection_units=4)([keras.ops.ones([2, 3]), keras.ops.ones([2, 5])]).shape)
    (2, 4)
    """

    projection_activation = None

    def __init__(self, hidden_units=(128,), dropout=0.0, *, projection_units=None, **kwargs):
        super().__init__(hidden_units=hidden_units, dropout=dropout, **kwargs)
        self.projection_units = positive_int(projection_units, "projection_units", allow_none=True)

    def build_fusion(self, widths):
        self.units = self.projection_units or max(widths)
        self.projections = []
        for i, width in enumerate(widths):
            dense = keras.layers.Dense(self.units, activation=self.projection_activation,
                                       dtype=self.dtype_policy, name=f"projection_{i}")
            dense.build((None, width))
            self.projections.append(dense)

    def project(self, tensors, mask):
        """The projected inputs, zero where an input is missing."""
        tensors = self.zero_missing(tensors, mask)
        return self.zero_missing([p(t) for p, t in zip(self.projections, tensors)], mask)

    def modality_weights(self, inputs, presence=None):
        """`[batch, n]` float32 weight of each input for these inputs (0 for missing ones).

        Sum gives the presence itself, mean the presence over the number
        present; weighted, attention and gated their learned weights. Builds
        the layer on first use.

        Example:

        >>> fusion = mmkeras.fusion.MeanFusion(hidden_units=[])
        >>> encoded = [keras.ops.ones([2, 3]), keras.ops.ones([2, 5])]
        >>> fusion.modality_weights(encoded, [keras.ops.ones([2]), keras.ops.convert_to_tensor([1.0, 0.0])]).numpy()
        array([[0.5, 0.5], [1. , 0. ]], dtype=float32)
        """
        tensors = as_list(inputs)
        if not self.built:
            self(tensors, presence)
        return self.weights_for(tensors, self.presence_mask(tensors, presence))

    def weights_for(self, tensors, mask):
        raise NotImplementedError(f"{type(self).__name__} has no per-input weights.")

    def get_config(self):
        return {**super().get_config(), "projection_units": self.projection_units}


@keras.saving.register_keras_serializable(package="mmkeras")
class ConcatFusion(FusionLayer):
    """Concatenates the per-input vectors, then applies dense layers with dropout.

    A missing input (presence 0) contributes a zero vector.

    Args:
        hidden_units: sizes of the ReLU dense layers after concatenation.
        dropout: dropout rate after each dense layer (training only).

    Example:

    >>> fusion = ConcatFusion(hidden_units=[8], dropout=0.1)
    >>> tuple(fusion([keras.ops.ones([2, 3]), keras.ops.ones([2, 5])]).shape)
    (2, 8)
    """

    def fused_width(self, widths):
        return sum(widths)

    def fuse(self, tensors, mask, training=None):
        tensors = self.zero_missing(tensors, mask)
        return ops.concatenate(tensors, axis=-1) if len(tensors) > 1 else tensors[0]
