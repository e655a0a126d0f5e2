"""Whether a train step is XLA-compiled: `training.jit_compile` (`auto`, `true`, `false`) resolved on this host.

`auto` (the default) follows Keras's own rule for `jit_compile="auto"`
(`keras.src.trainers.trainer.Trainer._resolve_auto_jit_compile`): XLA on
when TensorFlow sees a GPU or TPU, off on a CPU-only host. On CPU, XLA:CPU's
own convolution kernels are slower than TensorFlow's oneDNN ones for the
small CNN encoders mmkeras builds (benchmarks/RESULTS.md, figure 4: XLA made
7 of 8 fusions 1.1-2x slower on 2 cores, the eighth 8% faster, within the
run-to-run noise), so measuring both per model would cost an XLA compile
(seconds) to win little; `true` is there for the cases where it pays.
`auto` is also off while TF op determinism is on (`training.deterministic`):
Keras refuses to XLA-compile a model then (`model_supports_jit`), so `true`
with `deterministic: true` is a spec error.

The choice and its reason are what a run prints ("XLA off, auto: CPU-only
host") and writes into its `run.json`.
"""

import dataclasses

import tensorflow as tf
from tensorflow.python.framework.config import is_op_determinism_enabled  # what Keras asks; TF has no public getter

AUTO = "auto"
SETTINGS = (AUTO, True, False)
DETERMINISM_NOTE = ("Keras does not XLA-compile a model while TF op determinism is on "
                    "(keras.src.trainers.trainer.model_supports_jit)")


@dataclasses.dataclass(frozen=True)
class JitChoice:
    """What `training.jit_compile` resolved to on this host, and why.

    Attributes:
        setting: the spec's value: "auto", True or False.
        enabled: whether the train step is XLA-compiled.
        reason: why, in a few words ("auto: CPU-only host").

    Example:

    >>> JitChoice(AUTO, False, "auto: CPU-only host").describe()
    'XLA off, auto: CPU-only host'
    """

    setting: object
    enabled: bool
    reason: str

    def describe(self):
        """The words a run log uses: "XLA on, <reason>" / "XLA off, <reason>"."""
        return f"XLA {'on' if self.enabled else 'off'}, {self.reason}"

    def to_dict(self):
        """A JSON-ready dict (`run.json`'s `jit_compile`)."""
        return {"setting": self.setting, "enabled": self.enabled, "reason": self.reason}


def accelerators():
    """The kinds of non-CPU devices TensorFlow sees here ("GPU", "TPU"), sorted; empty on a CPU-only host.

    Example:

    >>> accelerators()  # this test machine has no GPU
    []
    """
    return sorted({d.device_type for d in tf.config.list_physical_devices() if d.device_type != "CPU"})


def op_determinism_enabled():
    """True when TF op determinism is on in this process (`tf.config.experimental.enable_op_determinism`).

    Example:

    >>> op_determinism_enabled()
    False
    """
    return bool(is_op_determinism_enabled())


def resolve_jit_compile(training, *, deterministic=None):
    """What a spec's `training.jit_compile` means on this host: a `JitChoice`.

    Args:
        training: a spec's `training` section (its `jit_compile` and `deterministic`).
        deterministic: whether TF op determinism will be on (default:
            `training.deterministic`, or on already in this process).

    Returns:
        A `JitChoice`: `true`/`false` as asked; `auto` off under op
        determinism, on with a GPU/TPU, off on a CPU-only host.

    Example:

    >>> resolve_jit_compile(spec.training).describe()
    'XLA on, training.jit_compile: true'
    >>> auto = mmkeras.load_spec({**spec.to_dict(), "training": {"jit_compile": "auto"}}).training
    >>> resolve_jit_compile(auto).describe()
    'XLA off, auto: CPU-only host'
    """
    setting = training.jit_compile
    if setting is True or setting is False:
        return JitChoice(setting, setting, f"training.jit_compile: {'true' if setting else 'false'}")
    if deterministic is None:
        deterministic = bool(training.deterministic) or op_determinism_enabled()
    if deterministic:
        why = "training.deterministic turns on" if training.deterministic else "this process has"
        return JitChoice(setting, False, f"auto: {why} TF op determinism, under which Keras does not XLA-compile")
    found = accelerators()
    if found:
        return JitChoice(setting, True, f"auto: {' and '.join(found)} found")
    return JitChoice(setting, False, "auto: CPU-only host")


def settle(choice, model):
    """`choice` after Keras compiled `model`: Keras may turn an `auto` choice off (a layer that cannot be compiled).

    Example:

    >>> settle(resolve_jit_compile(spec.training), model).enabled
    True
    """
    if choice.enabled and model.jit_compile is not True:
        return JitChoice(choice.setting, False, f"{choice.reason}, but Keras turned XLA off: {why_keras_refused()}")
    return choice


def why_keras_refused():
    """Why Keras would refuse XLA for a model here: op determinism, or a layer that cannot be compiled.

    Example:

    >>> why_keras_refused()[:8]
    'a layer '
    """
    if op_determinism_enabled():
        return "TF op determinism is on in this process: " + DETERMINISM_NOTE
    return ("a layer in it cannot be compiled (string lookups, text vectorization and random augmentation "
            "belong in the preprocessor)")
