"""KerasHub encoders from tiny local presets (random weights, written here: nothing is downloaded).

A text input (tiny BERT) and an image input (tiny ResNet) with `encoder: {type: kerashub}`: trained
through `train_run`, exported, served from raw inputs in a fresh process within 1e-5 of the
in-memory model; frozen backbones unchanged by `fit`; `fine_tune_from` unfreezes exactly the top
blocks; a missing preset fails at once, naming both ways to give one.
"""

import json
import os
import time

import keras
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras_hub")

import mmkeras  # noqa: E402
from mmkeras import cli  # noqa: E402
from mmkeras.encoders import kerashub_presets  # noqa: E402
from mmkeras.encoders.kerashub import set_trainable  # noqa: E402
from mmkeras.errors import SpecError  # noqa: E402
from mmkeras.export.serving import serve_in_subprocess  # noqa: E402
from mmkeras.runs.lifecycle import train_run  # noqa: E402
from mmkeras.runs.predict import predict_table  # noqa: E402
from mmkeras.runs.run_dir import load_run  # noqa: E402
from mmkeras.testing.kerashub import tiny_bert_preset, tiny_resnet_preset  # noqa: E402

WORDS = ["red", "blue", "cat", "dog", "a", "circle", "square", "high", "low", "the"]


def _table(folder, n=48, *, images=False, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"text": [" ".join(rng.choice(WORDS, rng.integers(1, 6))) for _ in range(n)],
                       "x": rng.normal(size=n).round(3), "label": rng.choice(["yes", "no"], n)})
    df.loc[3, "text"] = ""  # a missing text
    if images:
        os.makedirs(folder / "img", exist_ok=True)
        paths = []
        for i in range(n):
            pixels = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
            path = f"img/{i}.png"
            keras.utils.save_img(str(folder / path), pixels)
            paths.append(path)
        df["image"] = paths
    df.to_csv(folder / "rows.csv", index=False)
    return df


def _spec(folder, inputs, name="hub", jit_compile=True):
    return {"spec_version": 1, "name": name,
            "data": {"path": str(folder / "rows.csv"), "split": {"validation": 0.25, "test": 0.25}},
            "inputs": {"x": {"type": "numeric", "column": "x"}, **inputs},
            "outputs": {"label": {"type": "classification", "column": "label"}},
            "fusion": {"type": "concat", "hidden_units": [8], "dropout": 0.0},
            "training": {"epochs": 1, "batch_size": 8, "jit_compile": jit_compile, "learning_rate": 0.01}}


def _backbone_weights(model, name):
    backbone = model.get_layer(f"{name}_encoder").get_layer(f"{name}_backbone")
    return [keras.ops.convert_to_numpy(w).copy() for w in backbone.weights]


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return tiny_bert_preset(str(tmp_path_factory.mktemp("presets") / "bert"))


def test_text_preset_trains_exports_and_serves_raw_strings(tmp_path, bert):
    df = _table(tmp_path)
    spec = _spec(tmp_path, {"caption": {"type": "text", "column": "text", "sequence_length": 8,
                                        "encoder": {"type": "kerashub", "preset": bert, "pooling": "mean"}}})
    metrics = train_run(spec, str(tmp_path / "run"), verbose=False, report=False)
    assert 0.0 <= metrics["test"]["label"]["accuracy"] <= 1.0
    loaded_spec, pre, model = load_run(str(tmp_path / "run"))
    assert model.get_layer("caption_encoder").get_layer("caption_backbone").trainable is False
    rows = df.iloc[:6]
    raw = {"caption": rows["text"].to_numpy(object), "x": rows["x"].to_numpy(np.float32)}
    expected = keras.ops.convert_to_numpy(model(pre(raw), training=False)["label"])
    served = serve_in_subprocess(str(tmp_path / "run" / "saved_model"), raw)
    np.testing.assert_allclose(served["label_probabilities"], expected, atol=1e-5)
    with open(tmp_path / "run" / "saved_model" / "assets.extra" / "mmkeras.json") as f:
        assert '"tensorflow_text"' in f.read()  # the serving process must import it first
    preds = predict_table(str(tmp_path / "run" / "saved_model"), str(tmp_path / "rows.csv"))
    np.testing.assert_allclose(preds[["label_prob_no", "label_prob_yes"]].to_numpy()[:6], expected, atol=1e-5)


def test_frozen_backbone_is_unchanged_by_fit_and_fine_tune_from_opens_top_blocks(tmp_path, bert):
    df = _table(tmp_path, n=16)
    for options, changed in [({}, False), ({"fine_tune_from": 1}, True)]:
        spec = mmkeras.load_spec(_spec(tmp_path, {"caption": {
            "type": "text", "column": "text", "sequence_length": 8,
            "encoder": {"type": "kerashub", "preset": bert, **options}}}, jit_compile=False))
        pre = mmkeras.Preprocessor(spec).adapt(df)
        model = mmkeras.build_model(spec, pre)
        backbone = model.get_layer("caption_encoder").get_layer("caption_backbone")
        trainable = {w.path for w in backbone.trainable_weights}
        if changed:  # exactly the weights of the top transformer layer
            assert trainable == {w.path for w in backbone.get_layer("transformer_layer_1").weights}
        else:
            assert not trainable
        before = _backbone_weights(model, "caption")
        model.fit(mmkeras.make_dataset(spec, df, pre, training=True), epochs=1, verbose=0)
        after = _backbone_weights(model, "caption")
        moved = [not np.array_equal(a, b) for a, b in zip(before, after)]
        assert any(moved) == changed
        if changed:  # nothing below the top block moved
            top = {w.path for w in backbone.get_layer("transformer_layer_1").weights}
            assert all(w.path in top for w, m in zip(backbone.weights, moved) if m)
    with pytest.raises(SpecError, match="fine_tune_from"):
        set_trainable(backbone, fine_tune_from=3, where="inputs.caption.encoder")


def test_missing_preset_fails_at_once_naming_both_options(tmp_path, monkeypatch, capsys):
    df = _table(tmp_path, n=8)
    monkeypatch.setattr(kerashub_presets, "network_reachable", lambda host, **kw: False)  # as offline
    for preset, words in [(str(tmp_path / "nowhere"), "no KerasHub preset folder"),
                          ("bert_tiny_en_uncased", "cannot be reached"),
                          ("no_such_model_en", "neither a local folder nor a KerasHub preset name")]:
        spec = mmkeras.load_spec(_spec(tmp_path, {"caption": {"type": "text", "column": "text",
                                                              "encoder": {"type": "kerashub", "preset": preset}}}))
        start = time.monotonic()
        with pytest.raises(SpecError, match=words) as info:
            mmkeras.Preprocessor(spec).adapt(df)
        assert time.monotonic() - start < 10
        assert "local folder" in str(info.value) and "preset name" in str(info.value)
    # `mmkeras train` on a spec file with a relative folder that is not there: exit 2, one clear line.
    spec = _spec(tmp_path, {"caption": {"type": "text", "column": "text",
                                        "encoder": {"type": "kerashub", "preset": "./presets/absent"}}})
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    assert cli.main(["train", str(tmp_path / "spec.json"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "presets" / "absent") in err and "inputs.caption.encoder.preset" in err


def test_relative_preset_folder_is_relative_to_the_spec_file(tmp_path):
    spec = _spec(tmp_path, {"caption": {"type": "text", "column": "text",
                                        "encoder": {"type": "kerashub", "preset": "./presets/bert"}}})
    loaded = mmkeras.load_spec(spec, base_dir=str(tmp_path))
    assert loaded.inputs["caption"].encoder.options["preset"] == str(tmp_path / "presets" / "bert")
    spec["inputs"]["caption"]["encoder"]["preset"] = "bert_tiny_en_uncased"  # a name stays a name
    assert mmkeras.load_spec(spec, base_dir=str(tmp_path)).inputs["caption"].encoder.options["preset"] == \
        "bert_tiny_en_uncased"


def test_image_preset_with_its_converter_trains_and_serves(tmp_path):
    """Built, fit and exported directly (the text test above covers `train_run`), to keep the suite fast."""
    df = _table(tmp_path, n=16, images=True)
    resnet = tiny_resnet_preset(str(tmp_path / "resnet"), image_size=16)
    spec = mmkeras.load_spec(_spec(tmp_path, {"picture": {"type": "image", "column": "image", "height": 20,
                                                          "width": 20, "encoder": {"type": "kerashub",
                                                                                   "preset": resnet}}},
                                   name="hub_image", jit_compile=False))
    pre = mmkeras.Preprocessor(spec).adapt(df)
    assert pre.features["picture"].shape == (16, 16, 3)
    model = mmkeras.build_model(spec, pre)
    before = _backbone_weights(model, "picture")  # BatchNorm statistics included
    model.fit(mmkeras.make_dataset(spec, df, pre, training=True), epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, _backbone_weights(model, "picture")))
    path = mmkeras.export_saved_model(model, pre, str(tmp_path / "export"))
    rows = df.iloc[:4]
    raw = {"picture": np.array([open(tmp_path / p, "rb").read() for p in rows["image"]], object),
           "x": rows["x"].to_numpy(np.float32)}
    expected = keras.ops.convert_to_numpy(model(pre(raw), training=False)["label"])
    served = serve_in_subprocess(path, raw)
    np.testing.assert_allclose(served["label_probabilities"], expected, atol=1e-5)
