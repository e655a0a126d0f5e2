"""`build_model`: a spec and an adapted preprocessor -> a Keras functional model."""

import keras

from mmkeras.encoders import ENCODERS
from mmkeras.fusion import build_fusion
from mmkeras.heads import HEADS
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


def _assemble(spec, preprocessor):
    # Inputs: one per spec input, named after it.
    inputs = {name: keras.Input(shape=feature.shape, dtype=feature.dtype, name=name)
              for name, feature in preprocessor.features.items()}

    # Encoders: one nested sub-model per input.
    encoded = [build_encoder(spec.inputs[name], preprocessor.features[name])(tensor)
               for name, tensor in inputs.items()]

    # Fusion.
    fused = build_fusion(spec.fusion)(encoded)

    # Heads: one per output, named after it.
    outputs = {name: HEADS.get(out.type).build(fused, out, preprocessor.targets[name])
               for name, out in spec.outputs.items()}

    return keras.Model(inputs, outputs, name=spec.name)
