"""`build_model`: a spec and an adapted preprocessor -> a Keras functional model."""

import keras

from mmkeras.data.presence import PRESENCE
from mmkeras.encoders import ENCODERS
from mmkeras.fusion.registry import build_fusion
from mmkeras.tasks.outputs.heads import HEADS
from mmkeras.fusion.late import late_outputs
from mmkeras.layers.missing import MissingEmbedding, ModalityDropout
from mmkeras.specs import load_spec
from mmkeras.training import compile_model


def build_encoder(spec, feature):
    """The nested encoder sub-model `<input>_encoder` for one input."""
    inputs = keras.Input(shape=feature.shape, dtype=feature.dtype, name=spec.name)
    encoder = ENCODERS.get(spec.type, spec.encoder.type)
    outputs = encoder(inputs, spec, feature, **dict(spec.encoder.options))
    return keras.Model(inputs, outputs, name=f"{spec.name}_encoder")


def build_model(spec, preprocessor, *, compile=True):
    """Assembles the functional model: inputs -> encoders -> fusion -> heads.

    The model takes the preprocessed tensors that `make_dataset` yields (a
    dict keyed by input name) and returns a dict keyed by output name. All
    string handling and decoding stays in the preprocessor, so the train
    step compiles with XLA.

    Args:
        spec: a Spec, a spec file path or a dict.
        preprocessor: an adapted `mmkeras.Preprocessor` (gives shapes,
            vocabulary sizes and class counts).
        compile: also compile with the spec's optimizer, losses, metrics and
            `jit_compile` (checked to really be on).

    Returns:
        A `keras.Model` named after the spec.

    Example:

    >>> model = mmkeras.build_model(spec, pre)
    >>> model.summary()
    """
    spec = load_spec(spec)
    if not preprocessor.adapted:
        raise ValueError("The preprocessor is not adapted; call Preprocessor(spec).adapt(train_df) first.")
    keras.utils.set_random_seed(spec.training.seed)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(spec.training.precision)  # layers take the policy when created
    try:
        model = _assemble(spec, preprocessor)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    if compile:
        compile_model(model, spec)
    return model


def modality_dropout_rates(spec):
    """Per-input modality dropout rates (spec input order): `inputs.<name>.modality_dropout`,
    else `training.modality_dropout`.

    Example:

    >>> modality_dropout_rates(spec)   # training.modality_dropout: 0.3, caption overrides 0
    [0.3, 0.3, 0.0]
    """
    default = spec.training.modality_dropout
    return [default if i.modality_dropout is None else i.modality_dropout for i in spec.inputs.values()]


def _assemble(spec, preprocessor):
    # Inputs: one per spec input, named after it, and the presence mask `_presence`.
    inputs = {name: keras.Input(shape=feature.shape, dtype=feature.dtype, name=name)
              for name, feature in preprocessor.features.items()}
    names = list(inputs)
    inputs[PRESENCE] = keras.Input(shape=(len(names),), dtype="float32", name=PRESENCE)

    # Training only: drop whole inputs at random (never all of a row).
    presence = inputs[PRESENCE]
    rates = modality_dropout_rates(spec)
    if any(rates):
        presence = ModalityDropout(rates, seed=spec.training.seed, name="modality_dropout")(presence)

    # Encoders: one nested sub-model per input; a missing input's output becomes a learned vector.
    encoded = [MissingEmbedding(index=i, name=f"{name}_missing")(
                   build_encoder(spec.inputs[name], preprocessor.features[name])(inputs[name]), presence)
               for i, name in enumerate(names)]

    # Late fusion: a head per input and output, their predictions combined (mmkeras.fusion.late).
    if spec.fusion.type == "late":
        return keras.Model(inputs, late_outputs(spec, preprocessor, encoded, presence), name=spec.name)

    # Fusion, told which inputs are missing.
    fused = build_fusion(spec.fusion)(encoded, presence=[presence[:, i] for i in range(len(names))])

    # Heads: one per output, named after it.
    outputs = {name: HEADS.get(out.type).build(fused, out, preprocessor.targets[name])
               for name, out in spec.outputs.items()}

    return keras.Model(inputs, outputs, name=spec.name)
