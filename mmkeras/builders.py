"""`build_model`: a spec and an adapted preprocessor -> a Keras functional model.

`model_scope` (the spec's seed and dtype policy) is the one scope every
model is built in: `build_model` here, the retrieval dual encoder in
`mmkeras.tasks.retrieval.model`.
"""

import contextlib

import keras

from mmkeras.data.presence import PRESENCE
from mmkeras.encoders import ENCODERS
from mmkeras.fusion.late import late_outputs
from mmkeras.fusion.registry import build_fusion
from mmkeras.layers.missing import MissingEmbedding, ModalityDropout
from mmkeras.specs import load_spec
from mmkeras.tasks.outputs.heads import HEADS
from mmkeras.training import compile_model


def build_encoder(spec, feature):
    """The nested encoder sub-model `<input>_encoder` for one input: its registered encoder on its feature.

    Example:

    >>> build_encoder(spec.inputs["reading"], pre.features["reading"]).name
    'reading_encoder'
    """
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
    >>> model.name == spec.name, model.jit_compile, sorted(model.output)
    (True, True, ['label'])
    """
    spec = load_spec(spec)
    with model_scope(spec, preprocessor):
        model = _assemble(spec, preprocessor)
    if compile:
        compile_model(model, spec)
    return model


@contextlib.contextmanager
def model_scope(spec, preprocessor):
    """Where a spec's model is built: the spec's seed set, its dtype policy on (restored afterwards).

    Layers take the dtype policy when they are created, so everything built
    inside the block follows `training.precision`; the seed makes the
    initial weights the same on every run.

    Args:
        spec: a loaded Spec.
        preprocessor: its Preprocessor; a ValueError unless it is adapted.

    Example:

    >>> with model_scope(spec, pre):
    ...     layer = keras.layers.Dense(2)
    >>> layer.dtype_policy.name == spec.training.precision
    True
    """
    if not preprocessor.adapted:
        raise ValueError("The preprocessor is not adapted; call Preprocessor(spec).adapt(train_df) first.")
    keras.utils.set_random_seed(spec.training.seed)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(spec.training.precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous_policy)


def modality_dropout_rates(spec):
    """Per-input modality dropout rates (spec input order): `inputs.<name>.modality_dropout`,
    else `training.modality_dropout`.

    Example:

    >>> modality_dropout_rates(spec)   # the tiny spec drops no input; 0.3 and `caption: 0` would give 0.3s and a 0
    [0.0, 0.0, 0.0, 0.0, 0.0]
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
        return keras.Model(inputs, late_outputs(spec, preprocessor, encoded, presence), name=spec.model_name)

    # Fusion, told which inputs are missing.
    fused = build_fusion(spec.fusion)(encoded, presence=[presence[:, i] for i in range(len(names))])

    # Heads: one per output, named after it.
    outputs = {name: HEADS.get(out.type).output(fused, out, preprocessor.targets[name])
               for name, out in spec.outputs.items()}

    return keras.Model(inputs, outputs, name=spec.model_name)
