"""Spec validation: the shared specs load, and bad specs give messages naming file, path, value."""

import json
import os

import pytest
import yaml

import mmkeras
from mmkeras.specs import SpecError

SHARED_SPECS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "specs")
REPO_SPECS = os.path.join(os.path.dirname(__file__), "..", "data_specs")


def base():
    return {
        "spec_version": 1, "name": "t",
        "inputs": {"speech": {"type": "audio", "column": "a", "sample_rate": 8000},
                   "n": {"type": "numeric", "column": "n"}},
        "outputs": {"y": {"type": "classification", "column": "y"}},
    }


def write(tmp_path, spec, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec) if name.endswith(".yaml") else json.dumps(spec))
    return str(path)


def test_minimal_dict_gets_defaults():
    spec = mmkeras.load_spec(base())
    assert spec.inputs["speech"].encoder.type == "cnn"
    assert spec.inputs["n"].encoder.type == "dense"
    assert spec.fusion.type == "concat"
    assert spec.training.jit_compile == "auto"
    assert spec.inputs["speech"].resolved_n_fft == 256
    assert spec.inputs["speech"].resolved_hop_length == 64


@pytest.mark.parametrize("name", ["demo.yaml"])
def test_repo_specs_load(name):
    spec = mmkeras.load_spec(os.path.join(REPO_SPECS, name))
    assert spec.name
    assert os.path.isabs(spec.data.path)


def shared_specs():
    if not os.path.isdir(SHARED_SPECS):
        return []
    return sorted(f for f in os.listdir(SHARED_SPECS) if f.endswith(".yaml"))


@pytest.mark.skipif(not shared_specs(), reason="../shared/specs is absent")
@pytest.mark.parametrize("name", shared_specs() or ["none"])
def test_shared_specs_load_unchanged(name):
    path = os.path.join(SHARED_SPECS, name)
    spec = mmkeras.load_spec(path)
    # paths are relative to the spec file
    assert spec.data.path.startswith(os.path.normpath(os.path.join(SHARED_SPECS, "..")))
    assert spec.to_dict()["name"] == spec.name


def test_av_digits_validation_fraction_next_to_column():
    if "av_digits.yaml" not in shared_specs():
        pytest.skip("shared spec absent")
    spec = mmkeras.load_spec(os.path.join(SHARED_SPECS, "av_digits.yaml"))
    assert spec.data.split.column == "split"
    assert spec.data.split.validation == pytest.approx(0.1)
    assert spec.inputs["speech"].n_mels == 40


def test_round_trip_through_json(tmp_path):
    spec = mmkeras.load_spec(base())
    again = mmkeras.load_spec(write(tmp_path, spec.to_dict(), "spec.json"))
    assert again.to_dict() == spec.to_dict()


@pytest.mark.parametrize("mutate, expected", [
    (lambda s: s["inputs"]["speech"].update(type="audoi"),
     "inputs.speech.type: 'audoi' is not one of image, text, audio, numeric, categorical"),
    (lambda s: s["inputs"]["speech"].update(crop="middle"),
     "inputs.speech.crop: 'middle' is not one of start, center"),
    (lambda s: s["inputs"]["speech"].update(n_mels="forty"),
     "inputs.speech.n_mels: 'forty' is not an integer"),
    (lambda s: s["inputs"]["speech"].update(duration=0),
     "inputs.speech.duration: 0 must be greater than 0"),
    (lambda s: s["inputs"]["speech"].update(colour=1),
     "inputs.speech.colour: unknown key. Allowed keys:"),
    (lambda s: s["inputs"]["speech"].pop("column"), "inputs.speech.column: is required"),
    (lambda s: s["inputs"]["speech"].update(encoder={"type": "rnn"}),
     "inputs.speech.encoder.type: 'rnn' is not one of cnn"),
    (lambda s: s["inputs"]["speech"].update(encoder={"type": "cnn", "widht": 3}),
     "inputs.speech.encoder.widht: unknown option for the audio encoder 'cnn'"),
    (lambda s: s["outputs"]["y"].update(type="ranking"),
     "outputs.y.type: 'ranking' is not one of binary, classification, multilabel, regression"),
    (lambda s: s["outputs"]["y"].update(positive="yes"), "outputs.y.positive: is only allowed for type: binary"),
    (lambda s: s.update(fusion={"type": "attentoin"}), "fusion.type: 'attentoin' is not one of "),
    (lambda s: s.update(fusion={"hidden": [3]}), "fusion.hidden: unknown key. Allowed keys:"),
    (lambda s: s.update(training={"epochs": 0}), "training.epochs: 0 is below the minimum 1"),
    (lambda s: s.update(training={"jit_compile": "yes"}), "training.jit_compile: 'yes' is not one of auto, true, false"),
    (lambda s: s.update(training={"optimizer": "adagrad"}),
     "training.optimizer: 'adagrad' is not one of adam, adamw, sgd, rmsprop"),
    (lambda s: s.update(data={"split": {"train": 0.8, "test": 1.5}}),
     "data.split.test: 1.5 is not a fraction between 0 and 1"),
    (lambda s: s.update(data={"split": {"column": "s", "train": 0.5}}),
     "data.split.train: 0.5 must be the value of column 's'"),
    (lambda s: s.update(spec_version=2), "spec_version: 2 is not one of 1"),
    (lambda s: s.update(extra=1), "extra: unknown key"),
])
def test_bad_values_name_file_path_value_and_allowed(tmp_path, mutate, expected):
    spec = base()
    mutate(spec)
    path = write(tmp_path, spec)
    with pytest.raises(SpecError) as err:
        mmkeras.load_spec(path)
    message = str(err.value)
    assert message.startswith(path + ": "), message
    assert expected in message, message


def test_dict_spec_errors_have_no_file_prefix():
    spec = base()
    spec["inputs"]["speech"]["type"] = "hologram"
    with pytest.raises(SpecError, match=r"^inputs\.speech\.type: 'hologram' is not one of"):
        mmkeras.load_spec(spec)


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("inputs: [unclosed")
    with pytest.raises(SpecError, match="bad.yaml: not valid YAML"):
        mmkeras.load_spec(str(path))


def test_fraction_split_without_column_fills_train():
    spec = base()
    spec["data"] = {"split": {"validation": 0.1, "test": 0.2}}
    split = mmkeras.load_spec(spec).data.split
    assert split.train == pytest.approx(0.7)


def test_data_paths_are_relative_to_the_spec_file(tmp_path):
    spec = base()
    spec["data"] = {"path": "tables/t.csv", "root": "files"}
    loaded = mmkeras.load_spec(write(tmp_path, spec))
    assert loaded.data.path == str(tmp_path / "tables" / "t.csv")
    assert loaded.data.root == str(tmp_path / "files")
    moved = loaded.with_data(path=str(tmp_path / "other.csv"))
    assert moved.data.root is None and moved.data.path.endswith("other.csv")


def test_registered_encoder_options_become_spec_keys():
    @mmkeras.register_encoder("numeric", "test_wide")
    def wide(x, spec, feature, *, units=4):
        import keras
        return keras.layers.Dense(units)(x)

    spec = base()
    spec["inputs"]["n"]["encoder"] = {"type": "test_wide", "units": 3}
    assert mmkeras.load_spec(spec).inputs["n"].encoder.options == {"units": 3}
    spec["inputs"]["n"]["encoder"] = {"type": "test_wide", "size": 3}
    with pytest.raises(SpecError, match="Allowed: units"):
        mmkeras.load_spec(spec)
