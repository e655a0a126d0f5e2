"""`training.jit_compile: auto | true | false`: auto resolves to Keras's rule (off on this CPU-only host, on with a
GPU), `true` still turns XLA really on and is refused with `deterministic: true`, and a run says what it chose."""

import json
import os

import pytest
import tensorflow as tf
import yaml

import mmkeras
import mmkeras.runs.lifecycle
from helpers import tiny_spec_dict
from mmkeras.jit import JitChoice, accelerators, resolve_jit_compile, settle
from mmkeras.runs import train_model
from mmkeras.specs import SpecError, load_spec
from mmkeras.training import compile_model


def _quick(manifest, **training):
    """Two cheap inputs, one epoch: compiles and trains in seconds (XLA or not)."""
    d = tiny_spec_dict(manifest)
    d["inputs"] = {k: d["inputs"][k] for k in ("reading", "colour")}
    d["fusion"] = {"type": "concat", "hidden_units": [8], "dropout": 0.0}
    d["training"].pop("jit_compile", None)  # the default, unless a test sets it
    d["training"].update({"epochs": 1, "batch_size": 16, **training})
    return d


def _with_gpu(monkeypatch):
    """Makes TensorFlow report a GPU besides the CPU (the list Keras's own auto rule reads)."""
    real = tf.config.list_physical_devices

    def devices(device_type=None):
        found = real(device_type) if device_type in (None, "CPU") else []
        if device_type in (None, "GPU"):
            found = found + [tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")]
        return found

    monkeypatch.setattr(tf.config, "list_physical_devices", devices)


def test_the_default_is_auto_and_yaml_booleans_still_work(demo_manifest, tmp_path):
    assert load_spec(_quick(demo_manifest)).training.jit_compile == "auto"
    for text, value in (("true", True), ("false", False), ("auto", "auto"), ("yes", True), ("off", False)):
        d = _quick(demo_manifest)
        path = tmp_path / f"spec_{text}.yaml"
        path.write_text(yaml.safe_dump(d).replace("training:\n", f"training:\n  jit_compile: {text}\n", 1))
        assert load_spec(str(path)).training.jit_compile == value, text
    spec = load_spec(_quick(demo_manifest, jit_compile=False))
    assert load_spec(spec.to_dict()).training.jit_compile is False  # spec.json round trip keeps the setting
    assert load_spec(load_spec(_quick(demo_manifest)).to_dict()).training.jit_compile == "auto"


@pytest.mark.parametrize("value, message", [
    ("yes", "training.jit_compile: 'yes' is not one of auto, true, false"),
    ("on", "training.jit_compile: 'on' is not one of auto, true, false"),
    (1, "training.jit_compile: 1 is not"),
])
def test_other_values_are_spec_errors(demo_manifest, value, message):
    with pytest.raises(SpecError, match=message):
        load_spec(_quick(demo_manifest, jit_compile=value))


def test_true_with_deterministic_is_a_spec_error_that_says_why(demo_manifest):
    with pytest.raises(SpecError, match=r"training\.jit_compile: true cannot be combined with "
                                        r"training\.deterministic: true.*op determinism.*auto or false"):
        load_spec(_quick(demo_manifest, jit_compile=True, deterministic=True))
    for jit in ("auto", False):  # these are fine: XLA off, said why
        choice = resolve_jit_compile(load_spec(_quick(demo_manifest, jit_compile=jit, deterministic=True)).training)
        assert choice.enabled is False and ("op determinism" in choice.reason or "false" in choice.reason)


def test_keras_really_turns_xla_off_under_op_determinism(demo_manifest):
    """The Keras rule behind `auto`'s choice and the spec error (keras.src.trainers.trainer.model_supports_jit)."""
    from tensorflow.python.framework import config  # deferred: TF-private, to switch determinism off again

    spec = load_spec(_quick(demo_manifest, jit_compile=True))
    pre = mmkeras.Preprocessor(spec).adapt(mmkeras.load_splits(spec)["train"])
    config.enable_op_determinism()
    try:
        assert resolve_jit_compile(load_spec(_quick(demo_manifest)).training).reason.startswith("auto: this process has TF op determinism")
        with pytest.raises(RuntimeError, match="Keras turned XLA off.*TF op determinism is on in this process"):
            mmkeras.build_model(spec, pre)
    finally:
        config.disable_op_determinism()
    assert mmkeras.build_model(spec, pre).jit_compile is True


def test_auto_is_off_on_this_cpu_host_and_on_with_a_gpu(demo_manifest, monkeypatch):
    training = load_spec(_quick(demo_manifest)).training
    assert accelerators() == []
    assert resolve_jit_compile(training) == JitChoice("auto", False, "auto: CPU-only host")
    _with_gpu(monkeypatch)
    assert accelerators() == ["GPU"]
    assert resolve_jit_compile(training) == JitChoice("auto", True, "auto: GPU found")
    assert resolve_jit_compile(training, deterministic=True).enabled is False
    assert resolve_jit_compile(load_spec(_quick(demo_manifest, jit_compile=False)).training).enabled is False


def test_compile_model_follows_the_choice(demo_manifest, monkeypatch):
    spec = load_spec(_quick(demo_manifest))
    pre = mmkeras.Preprocessor(spec).adapt(mmkeras.load_splits(spec)["train"])
    assert mmkeras.build_model(spec, pre).jit_compile is False  # auto on this CPU-only host
    explicit = load_spec(_quick(demo_manifest, jit_compile=True))
    assert mmkeras.build_model(explicit, pre).jit_compile is True  # asked for: really on
    _with_gpu(monkeypatch)
    model = mmkeras.build_model(spec, pre)
    assert model.jit_compile is True and settle(resolve_jit_compile(spec.training), model).enabled
    assert compile_model(model, spec, jit_compile=False).jit_compile is False  # the argument still wins


def test_auto_on_when_keras_cannot_compile_says_so_instead_of_failing(demo_manifest, monkeypatch):
    import keras

    spec = load_spec(_quick(demo_manifest))
    _with_gpu(monkeypatch)
    x = keras.Input((), dtype="string")
    ids = keras.layers.StringLookup(vocabulary=["a", "b"])(x)
    model = keras.Model(x, {"label": keras.layers.Dense(8, activation="softmax")(keras.ops.expand_dims(ids, -1))})
    compile_model(model, spec)  # auto: no error, Keras's own choice stands
    choice = settle(resolve_jit_compile(spec.training), model)
    assert choice.enabled is False and "Keras turned XLA off" in choice.reason
    with pytest.raises(RuntimeError, match="Keras turned XLA off"):
        compile_model(model, load_spec(_quick(demo_manifest, jit_compile=True)))


def test_a_run_logs_and_records_the_choice(demo_manifest, tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    mmkeras.runs.lifecycle.train_run(_quick(demo_manifest), run_dir, verbose=True)
    out = capsys.readouterr().out
    assert "(XLA off, auto: CPU-only host)" in out
    with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as f:
        run = json.load(f)
    assert run["jit_compile"] == {"setting": "auto", "enabled": False, "reason": "auto: CPU-only host"}
    with open(os.path.join(run_dir, "spec.json"), encoding="utf-8") as f:
        assert json.load(f)["training"]["jit_compile"] == "auto"


def test_auto_with_deterministic_trains_without_xla(demo_manifest, monkeypatch):
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: None)  # process-wide otherwise
    _with_gpu(monkeypatch)  # even where auto would pick XLA
    lines = []
    trained = train_model(_quick(demo_manifest, deterministic=True), verbose=False, say=lines.append)
    assert trained.model.jit_compile is False
    assert lines[-1].endswith("(XLA off, auto: training.deterministic turns on TF op determinism, "
                              "under which Keras does not XLA-compile)")
