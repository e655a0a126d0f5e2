"""Late fusion: a head per input and output, their predictions combined.

`fusion: {type: late, combine: mean|weighted|stacking, aux_loss_weight: 0.0}`
gives every output one small head per input (the input's encoder output ->
the fusion's `hidden_units` ReLU MLP with dropout -> the output's logits),
and combines the per-input logits (regression: values) with a `LateCombine`
layer named after the output:

* `mean`: the mean over the inputs present in the row,
* `weighted`: `Σ w_i z_i` with `w = softmax(l)` over the present inputs
  (one learned scalar `l_i` per input),
* `stacking`: a Dense layer over the concatenated per-input logits, where a
  missing input's logits are zeroed (starts as the plain mean).

Classification applies softmax after combining, binary and multilabel a
sigmoid, regression nothing. With `aux_loss_weight > 0` each input's own
prediction is an extra model output `<output>__<input>`, trained with that
loss weight (times the output's `loss_weight`) so every branch learns on its
own; the export and the metrics ignore these outputs.
"""

import keras
import numpy as np
from keras import ops

from mmkeras.errors import SpecError
from mmkeras.fusion.base import masked_softmax, positive_int
from mmkeras.tasks.outputs.heads import HEADS

COMBINES = ("mean", "weighted", "stacking")
ACTIVATIONS = {"classification": "softmax", "binary": "sigmoid", "multilabel": "sigmoid", "regression": None}
AUX_SEPARATOR = "__"


@keras.saving.register_keras_serializable(package="mmkeras")
class LateCombine(keras.layers.Layer):
    """Combines per-input predictions `[batch, k]` into one, honouring presence.

    Args:
        combine: "mean", "weighted" or "stacking" (see the module docstring).
        activation: applied after combining: "softmax", "sigmoid" or None.

    Call arguments:
        inputs: list of `[batch, k]` per-input logits (or values), spec input order.
        presence: None (all present) or `[batch, n]` float, 1 = present, 0 = missing.

    A missing input's logits never reach the result (they are replaced by
    zeros before anything else, NaN included). A row with every input
    missing gives zero logits (the uniform distribution after softmax);
    with stacking, the Dense bias alone.

    Example:

    >>> combine = LateCombine("mean", activation="softmax")
    >>> z = [keras.ops.ones([2, 3]), keras.ops.zeros([2, 3])]
    >>> tuple(combine(z, keras.ops.convert_to_tensor([[1.0, 1.0], [1.0, 0.0]])).shape)
    (2, 3)
    """

    def __init__(self, combine="mean", activation=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if combine not in COMBINES:
            raise ValueError(f"`combine` must be one of {list(COMBINES)}, got {combine!r}.")
        if activation not in (None, "softmax", "sigmoid"):
            raise ValueError(f"`activation` must be None, 'softmax' or 'sigmoid', got {activation!r}.")
        self.combine = combine
        self.activation = activation

    def build(self, inputs_shape, presence_shape=None):
        shapes = list(inputs_shape)
        self.num_inputs = len(shapes)
        self.units = int(shapes[0][-1])
        if any(int(s[-1]) != self.units for s in shapes):
            raise ValueError(f"LateCombine {self.name!r}: every input needs the same width, got "
                             f"{[tuple(s) for s in shapes]}.")
        if self.combine == "weighted":
            self.modality_logits = self.add_weight(name="modality_logits", shape=(self.num_inputs,),
                                                   initializer="zeros", trainable=True)
        elif self.combine == "stacking":
            n, k = self.num_inputs, self.units
            mean = np.tile(np.eye(k, dtype="float32") / n, (n, 1))  # starts as the plain mean

            self.stack = keras.layers.Dense(k, kernel_initializer=keras.initializers.Constant(mean),
                                            dtype=self.dtype_policy, name="stack")
            self.stack.build((None, n * k))

    def mask(self, inputs, presence):
        """`[batch, n]` float32 presence (all ones when `presence` is None).

        Example:

        >>> LateCombine().mask([keras.ops.zeros([2, 3])] * 2, None).numpy()   # no presence: all present
        array([[1., 1.], [1., 1.]], dtype=float32)
        """
        if presence is None:
            return ops.ones_like(ops.stack([ops.cast(t[:, 0], "float32") for t in inputs], axis=1))
        return ops.cast(ops.reshape(presence, (-1, len(inputs))), "float32")

    def modality_weights(self, presence):
        """`[batch, n]` weight of each input for `mean` and `weighted` (0 where missing).

        Example:

        >>> LateCombine("mean").modality_weights(keras.ops.convert_to_tensor([[1.0, 1.0, 0.0]])).numpy()
        array([[0.5, 0.5, 0. ]], dtype=float32)
        """
        presence = ops.cast(presence, "float32")
        if self.combine == "mean":
            return presence / ops.maximum(ops.sum(presence, axis=1, keepdims=True), 1.0)
        if self.combine == "weighted":
            logits = ops.cast(self.modality_logits, "float32")[None, :] * ops.ones_like(presence)
            return masked_softmax(logits, presence)
        raise NotImplementedError("combine: stacking mixes logits with a Dense layer; it has no per-input weight.")

    def call(self, inputs, presence=None):
        inputs = [ops.cast(t, "float32") for t in inputs]
        mask = self.mask(inputs, presence)
        kept = [ops.where(mask[:, i:i + 1] > 0, t, ops.zeros_like(t)) for i, t in enumerate(inputs)]
        if self.combine == "stacking":
            z = self.stack(ops.concatenate(kept, axis=-1))
        else:
            weights = self.modality_weights(mask)
            z = ops.sum(ops.stack(kept, axis=1) * weights[:, :, None], axis=1)
        if self.activation == "softmax":
            return ops.softmax(z, axis=-1)
        if self.activation == "sigmoid":
            return ops.sigmoid(z)
        return z

    def compute_output_shape(self, inputs_shape, presence_shape=None):
        return tuple(inputs_shape[0])

    def get_config(self):
        return {**super().get_config(), "combine": self.combine, "activation": self.activation}


class LateFusion:
    """The `late` entry of the fusion registry: its options, checked; builds the per-input heads.

    Late fusion has no single fused vector, so `build_model` calls
    `late_outputs` (which uses this class) instead of a fusion layer.

    Args:
        hidden_units: ReLU layers of each per-input head (may be empty).
        dropout: dropout after each of them (training only).
        combine: "mean", "weighted" or "stacking".
        aux_loss_weight: > 0 adds each input's own prediction as an extra
            output `<output>__<input>` with this loss weight.

    Example:

    >>> LateFusion(hidden_units=[16], combine="weighted").combine
    'weighted'
    """

    def __init__(self, hidden_units=(128,), dropout=0.0, *, combine="mean", aux_loss_weight=0.0, **kwargs):
        self.hidden_units = [positive_int(u, "hidden_units") for u in hidden_units]
        self.dropout = float(dropout)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
        problem = self.check_options({"combine": combine, "aux_loss_weight": aux_loss_weight})
        if problem:
            raise ValueError(f"fusion.{problem[0]}: {problem[1]}")
        self.combine = combine
        self.aux_loss_weight = float(aux_loss_weight)
        self.name = kwargs.pop("name", "fusion")
        if kwargs:
            raise ValueError(f"fusion: unknown option(s) {sorted(kwargs)}; late fusion takes combine, aux_loss_weight")

    @staticmethod
    def check_options(options):
        """(key, message) for a bad `combine` or `aux_loss_weight` value, else None (used by the spec loader).

        Example:

        >>> LateFusion.check_options({"combine": "max"})
        ('combine', "'max' is not one of mean, weighted, stacking")
        """
        combine = options.get("combine", "mean")
        if combine not in COMBINES:
            return "combine", f"{combine!r} is not one of {', '.join(COMBINES)}"
        weight = options.get("aux_loss_weight", 0.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
            return "aux_loss_weight", f"{weight!r} is not a number >= 0"
        return None

    def __call__(self, *args, **kwargs):
        raise TypeError("fusion type 'late' has no single fused vector: build the model with "
                        "mmkeras.build_model (it calls mmkeras.fusion.late.late_outputs).")

    def head(self, x, out_name, in_name, units):
        """One input's head for one output: the MLP, then float32 logits `[batch, units]`.

        Example:

        >>> tuple(LateFusion(hidden_units=[8]).head(keras.Input((16,)), "label", "picture", 10).shape)
        (None, 10)
        """
        for i, width in enumerate(self.hidden_units):
            x = keras.layers.Dense(width, activation="relu", name=f"late_{out_name}_{in_name}_dense_{i}")(x)
            if self.dropout:
                x = keras.layers.Dropout(self.dropout, name=f"late_{out_name}_{in_name}_dropout_{i}")(x)
        return keras.layers.Dense(units, dtype="float32", name=f"late_{out_name}_{in_name}_logits")(x)


def _output_units(out, target):
    if out.type in ("classification", "multilabel"):
        return len(target.classes)
    return 1


def _fail(spec, key, message):
    raise SpecError(f"{spec.source or 'spec'}: {key}: {message}")


def late_fusion(spec):
    """The checked `LateFusion` for a spec with `fusion.type: late` (a SpecError names a bad option).

    Example:

    >>> late_fusion(spec).combine
    'mean'
    """
    try:
        return LateFusion(hidden_units=spec.fusion.hidden_units, dropout=spec.fusion.dropout,
                          **dict(spec.fusion.options))
    except ValueError as e:
        message = str(e)
        key, _, rest = message.partition(": ")
        if message.startswith("fusion") and rest:
            _fail(spec, key, rest)
        _fail(spec, "fusion", message)


def aux_outputs(spec):
    """{aux output name: (output name, input name)} a late-fusion spec adds (empty otherwise).

    Example:

    >>> late = mmkeras.load_spec(dict(spec.to_dict(), fusion={"type": "late", "hidden_units": [8], "aux_loss_weight": 0.3}))
    >>> aux_outputs(late)
    {'label__picture': ('label', 'picture'), 'label__sound': ('label', 'sound'), ...}
    """
    if spec.fusion.type != "late" or not late_fusion(spec).aux_loss_weight > 0:
        return {}
    return {f"{o}{AUX_SEPARATOR}{i}": (o, i) for o in spec.outputs for i in spec.inputs}


def late_outputs(spec, preprocessor, encoded, presence):
    """The outputs dict of a late-fusion model (aux outputs included when `aux_loss_weight > 0`).

    Args:
        spec: the Spec (`fusion.type: late`).
        preprocessor: the adapted Preprocessor (class counts).
        encoded: list of `[batch, d_i]` encoder outputs, spec input order.
        presence: `[batch, n]` float presence (1 present, 0 missing), or None.

    Returns:
        {output name: tensor}: the combined prediction per output (layer
        `LateCombine` named after it), plus `<output>__<input>` per input
        and output with aux outputs.

    Example:

    >>> late = mmkeras.load_spec(dict(spec.to_dict(), fusion={"type": "late", "hidden_units": [8], "aux_loss_weight": 0.3}))
    >>> model = mmkeras.build_model(late, pre)   # build_model calls late_outputs
    >>> sorted(model.output_names)
    ['label', 'label__caption', 'label__colour', 'label__picture', 'label__reading', 'label__sound']
    """
    fusion = late_fusion(spec)
    names = list(spec.inputs)
    if len(encoded) != len(names):
        raise ValueError(f"late_outputs got {len(encoded)} encoded tensors for {len(names)} inputs {names}.")
    aux = aux_outputs(spec)
    outputs = {}
    for out_name, out in spec.outputs.items():
        if out.type not in ACTIVATIONS:
            _fail(spec, f"outputs.{out_name}.type", f"{out.type!r}: late fusion supports "
                                                    f"{', '.join(ACTIVATIONS)} outputs")
        activation = ACTIVATIONS[out.type]
        units = _output_units(out, preprocessor.targets[out_name])
        logits = [fusion.head(x, out_name, in_name, units) for x, in_name in zip(encoded, names)]
        outputs[out_name] = LateCombine(fusion.combine, activation=activation, name=out_name)(logits, presence)
        for in_name, z in zip(names, logits):
            aux_name = f"{out_name}{AUX_SEPARATOR}{in_name}"
            if aux_name in aux:
                outputs[aux_name] = keras.layers.Activation(activation or "linear", dtype="float32",
                                                            name=aux_name)(z)
    return outputs


def add_aux_targets(spec, dataset):
    """`dataset` with each aux output's target (and sample weight) copied from its output's.

    A no-op without aux outputs. Handles `(inputs, targets)` and
    `(inputs, targets, sample_weights)` elements with dict targets.

    Example:

    >>> late = mmkeras.load_spec(dict(spec.to_dict(), fusion={"type": "late", "hidden_units": [8], "aux_loss_weight": 0.3}))
    >>> inputs, targets = next(iter(add_aux_targets(late, mmkeras.make_dataset(late, splits["train"], pre))))
    >>> sorted(targets)
    ['label', 'label__caption', 'label__colour', 'label__picture', 'label__reading', 'label__sound']
    """
    aux = aux_outputs(spec)
    if not aux or dataset is None:
        return dataset

    def extend(d):
        if not isinstance(d, dict):
            return d
        return {**d, **{a: d[o] for a, (o, _) in aux.items() if o in d}}

    def add(*element):
        if len(element) == 1:
            return element[0]
        return (element[0],) + tuple(extend(e) for e in element[1:])

    return dataset.map(add)


def aux_compile_entries(spec):
    """(losses, loss_weights) dicts for the aux outputs, for `model.compile` (empty without them).

    Each aux output `<output>__<input>` gets its output's loss, weighted by
    `aux_loss_weight` times the output's `loss_weight`.

    Example:

    >>> late = mmkeras.load_spec(dict(spec.to_dict(), fusion={"type": "late", "hidden_units": [8], "aux_loss_weight": 0.3}))
    >>> losses, weights = aux_compile_entries(late)
    >>> weights["label__picture"]
    0.3
    """
    aux = aux_outputs(spec)
    if not aux:
        return {}, {}
    weight = late_fusion(spec).aux_loss_weight
    losses, weights = {}, {}
    for aux_name, (out_name, _) in aux.items():
        out = spec.outputs[out_name]
        losses[aux_name] = HEADS.get(out.type).loss(out)
        weights[aux_name] = weight * float(getattr(out, "loss_weight", 1.0))
    return losses, weights
