"""The encoder registry, keyed by modality and name."""

import inspect

from mmkeras.registry import Registry

_DEFAULTS = {"image": "cnn", "text": "bag_of_embeddings", "audio": "cnn",
             "numeric": "dense", "categorical": "embedding",
             "multi_hot": "dense", "boolean": "identity", "video": "frames_cnn"}


class EncoderRegistry:
    """Encoders per modality. An encoder is a function

        encoder(x, spec, feature, **options) -> keras tensor

    taking the preprocessed input tensor `x`, the input's spec and its
    adapted feature (which knows e.g. `vocabulary_size`), and returning one
    vector per example. Its keyword-only parameters are the options a spec
    may set under `encoder:`.
    """

    def __init__(self):
        self._by_modality = {m: Registry(f"{m} encoder") for m in _DEFAULTS}

    def register(self, modality, name, *, override=False):
        if modality not in self._by_modality:
            raise ValueError(f"Unknown modality {modality!r}. Known: {sorted(self._by_modality)}")
        return self._by_modality[modality].register(name, override=override)

    def get(self, modality, name):
        return self._by_modality[modality].get(name)

    def names_for(self, modality):
        return self._by_modality[modality].names()

    def options_for(self, modality, name):
        params = inspect.signature(self.get(modality, name)).parameters.values()
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


ENCODERS = EncoderRegistry()


def register_encoder(modality, name, *, override=False):
    """Decorator that makes an encoder available to specs as `encoder: {type: name}`.

    Args:
        modality: one of image, text, audio, numeric, categorical, multi_hot, boolean, video.
        name: the spec's encoder `type`.
        override: replace an encoder already registered under that name.

    Example:

    >>> @mmkeras.register_encoder("numeric", "wide")
    ... def wide(x, spec, feature, *, units=32):
    ...     return keras.layers.Dense(units, activation="relu")(x)
    >>> # in a spec: inputs: {price: {type: numeric, column: price, encoder: {type: wide, units: 8}}}
    """
    return ENCODERS.register(modality, name, override=override)


def default_encoder(modality):
    """The encoder used when a spec names none."""
    return _DEFAULTS[modality]
