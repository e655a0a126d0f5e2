"""Finding KerasHub presets: a local folder, or a preset name downloaded on a connected machine.

A spec's `encoder: {type: kerashub, preset: ...}` names either a folder
written by KerasHub's `save_to_preset` (it holds `config.json`), or a
KerasHub preset name (`bert_tiny_en_uncased`, or a `kaggle://` / `hf://`
handle) that KerasHub downloads and caches. Everything here fails at once
with a `SpecError` naming both options: a local folder that is not there, a
name KerasHub does not know, or a name with no network to fetch it (probed
with a short connection timeout, so an offline machine never hangs).

`keras_hub` is an optional dependency (the `kerashub` extra); it is imported
only when a kerashub encoder is used.
"""

import os
import socket

from mmkeras.errors import SpecError

HOW_TO_FETCH = ("`preset` takes a local folder written by KerasHub's save_to_preset (holding config.json; "
                "write it with a slash, e.g. ./presets/bert_tiny) or a KerasHub preset name such as "
                "bert_tiny_en_uncased, downloaded (and cached) on a machine with network access")
NETWORK_HOSTS = {"hf://": "huggingface.co"}  # every other name comes from Kaggle
NETWORK_TIMEOUT_S = 3.0


def is_local(preset):
    """True when `preset` is written as a folder (it has a slash or starts with `.` or `~`), not a name.

    Example:

    >>> is_local("./presets/bert"), is_local("bert_tiny_en_uncased"), is_local("hf://google/bert")
    (True, False, False)
    """
    preset = str(preset)
    if "://" in preset:
        return False
    return "/" in preset or os.sep in preset or preset.startswith((".", "~"))


class PresetNames:
    """The `encoder.preset` values that are names, not paths (the loader leaves them as written).

    The spec loader makes an encoder's path options relative to the spec
    file unless the value is `in` the option's words; this container holds
    every value that is not written as a folder.

    Example:

    >>> "bert_tiny_en_uncased" in PresetNames(), "./presets/bert" in PresetNames()
    (True, False)
    """

    def __contains__(self, value):
        return not is_local(value)


def keras_hub_module():
    """The `keras_hub` module, or a SpecError saying how to install it.

    Example:

    >>> keras_hub_module().__name__
    'keras_hub'
    """
    try:
        import keras_hub  # deferred: optional dependency (the kerashub extra), slow to import
    except ImportError as e:
        raise SpecError("encoder type kerashub needs KerasHub: pip install -e .[kerashub] "
                        f"(keras-hub and tensorflow-text); {e}") from None
    return keras_hub


def network_reachable(host, *, timeout=NETWORK_TIMEOUT_S):
    """True when a TCP connection to `host`:443 opens within `timeout` seconds.

    Example:

    >>> network_reachable("localhost.invalid", timeout=0.5)
    False
    """
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def check_preset(preset, where="encoder.preset"):
    """Checks that a preset can be loaded now; returns it (a local folder made absolute).

    Args:
        preset: a folder or a KerasHub preset name.
        where: the spec field, for the error message (e.g. `inputs.caption.encoder.preset`).

    Raises:
        SpecError: a folder without `config.json`, an unknown name, or a
            name with no network to download it; the message names both options.

    Example:

    >>> check_preset(os.path.join(tmp_dir, "no_such_preset"))
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: encoder.preset: no KerasHub preset folder at .../no_such_preset ...
    """
    if not preset or not isinstance(preset, str):
        raise SpecError(f"{where}: {preset!r} is not a preset; {HOW_TO_FETCH}")
    if is_local(preset) or os.path.isdir(preset):
        folder = os.path.abspath(os.path.expanduser(preset))
        if not os.path.isfile(os.path.join(folder, "config.json")):
            raise SpecError(f"{where}: no KerasHub preset folder at {folder} (no config.json there); "
                            f"{HOW_TO_FETCH}")
        return folder
    if "://" not in preset:
        known = sorted(keras_hub_module().models.Backbone.presets)
        if preset not in known:
            raise SpecError(f"{where}: {preset!r} is neither a local folder nor a KerasHub preset name "
                            f"(known names include {', '.join(known[:5])}); {HOW_TO_FETCH}")
    host = next((h for prefix, h in NETWORK_HOSTS.items() if preset.startswith(prefix)), "www.kaggle.com")
    if not network_reachable(host):
        raise SpecError(f"{where}: the KerasHub preset {preset!r} is not a local folder and {host} cannot be "
                        f"reached to download it; {HOW_TO_FETCH}. On a connected machine: "
                        f"keras_hub.models.Backbone.from_preset({preset!r}).save_to_preset('presets/NAME') "
                        "(and the same for its tokenizer or image converter), then copy that folder here")
    return preset


def from_preset(cls_name, preset, where="encoder.preset", **kwargs):
    """`keras_hub.models.<cls_name>.from_preset(preset)`, after `check_preset`, errors as SpecError.

    Args:
        cls_name: e.g. `Backbone`, `TextClassifierPreprocessor`, `ImageConverter` (`keras_hub.layers`).
        preset: a folder or a preset name.
        where: the spec field, for error messages.
        **kwargs: passed to `from_preset` (e.g. `sequence_length`).

    Example:

    >>> from_preset("Backbone", os.path.join(tmp_dir, "missing"))
    Traceback (most recent call last):
    ...
    mmkeras.errors.SpecError: encoder.preset: no KerasHub preset folder at ...
    """
    preset = check_preset(preset, where)
    keras_hub = keras_hub_module()
    cls = getattr(keras_hub.models, cls_name, None) or getattr(keras_hub.layers, cls_name)
    try:
        return cls.from_preset(preset, **kwargs)
    except (OSError, ValueError, ConnectionError) as e:
        raise SpecError(f"{where}: KerasHub could not load {cls_name} from {preset!r}: {e}; "
                        f"{HOW_TO_FETCH}") from e
