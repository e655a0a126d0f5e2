"""The encoder registry, keyed by modality and name."""

import contextlib
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

    Example:

    >>> "dense" in ENCODERS.names_for("numeric"), ENCODERS.get("numeric", "dense").__name__
    (True, 'dense')
    """

    def __init__(self):
        self._by_modality = {m: Registry(f"{m} encoder") for m in _DEFAULTS}

    def _registry(self, modality):
        if modality not in self._by_modality:
            raise ValueError(f"Unknown modality {modality!r}. Known: {sorted(self._by_modality)}")
        return self._by_modality[modality]

    def register(self, modality, name, *, override=False):
        """Decorator registering an encoder function for `modality` under `name`."""
        return self._registry(modality).register(name, override=override)

    def temporarily(self, modality, name, encoder):
        """A context manager registering `encoder` only for the body of a `with` block.

        Example:

        >>> with ENCODERS.temporarily("numeric", "doubled", lambda x, spec, feature: 2 * x):
        ...     "doubled" in ENCODERS.names_for("numeric")
        True
        >>> "doubled" in ENCODERS.names_for("numeric")
        False
        """
        return self._registry(modality).temporarily(name, encoder)

    @contextlib.contextmanager
    def restoring(self):
        """A context manager that puts every modality's encoders back as they were when the block began.

        Example:

        >>> with ENCODERS.restoring():
        ...     _ = ENCODERS.register("numeric", "scratch")(lambda x, spec, feature: x)
        >>> "scratch" in ENCODERS.names_for("numeric")
        False
        """
        with contextlib.ExitStack() as stack:
            for registry in self._by_modality.values():
                stack.enter_context(registry.restoring())
            yield self

    def get(self, modality, name):
        """The encoder function; a `ValueError` names the modality's known encoders."""
        return self._registry(modality).get(name)

    def names_for(self, modality):
        """Sorted names of the encoders registered for `modality`."""
        return self._registry(modality).names()

    def options_for(self, modality, name):
        """The keyword-only parameters of an encoder: the options a spec may set under `encoder:`.

        Example:

        >>> ENCODERS.options_for("numeric", "dense")
        ['units']
        """
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
    >>> spec_dict = spec.to_dict()   # the encoder in a spec: {type: wide, units: 8}
    >>> spec_dict["inputs"]["reading"]["encoder"] = {"type": "wide", "units": 8}
    >>> mmkeras.load_spec(spec_dict).inputs["reading"].encoder
    EncoderSpec(type='wide', options={'units': 8})
    """
    return ENCODERS.register(modality, name, override=override)


def default_encoder(modality):
    """The encoder used when a spec names none.

    Example:

    >>> default_encoder("image"), default_encoder("text")
    ('cnn', 'bag_of_embeddings')
    """
    return _DEFAULTS[modality]
