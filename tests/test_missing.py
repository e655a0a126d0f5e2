"""Missing inputs: presence mask, missing embedding, modality dropout, export, importance."""

import os

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import mmkeras
from helpers import tiny_spec_dict
from mmkeras.data import PRESENCE
from mmkeras.data.presence import decode_or_zeros, is_missing_cell
from mmkeras.layers import MissingEmbedding, ModalityDropout
from mmkeras.specs import SpecError

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host

NAMES = ["picture", "caption", "reading", "colour"]


def knock_out(df, spec, where):
    """A copy of `df` with {row: input} made missing (empty path / string, NaN number)."""
    df = df.copy().reset_index(drop=True)
    for row, name in where.items():
        column = spec.inputs[name].column
        df[column] = df[column].astype(object)
        df.loc[row, column] = np.nan if spec.inputs[name].type == "numeric" else ""
    return df


@pytest.fixture(scope="module")
def trained(demo_manifest, tmp_path_factory):
    """A tiny weighted-fusion model with modality dropout, trained on rows with missing inputs, exported."""
    spec = tiny_spec_dict(demo_manifest, modality_dropout=0.3, epochs=1)
    del spec["inputs"]["sound"]  # audio missing-path handling: see test_pipeline.py
    spec = mmkeras.load_spec({**spec, "fusion": {"type": "weighted", "hidden_units": [16]}})
    splits = mmkeras.load_splits(spec)
    train = knock_out(splits["train"], spec, {0: "picture", 1: "caption", 2: "reading", 3: "colour"})
    pre = mmkeras.Preprocessor(spec).adapt(train)
    model = mmkeras.build_model(spec, pre)
    model.fit(mmkeras.make_dataset(spec, train, pre, training=True), epochs=1, verbose=0)
    export = mmkeras.export_saved_model(model, pre, str(tmp_path_factory.mktemp("missing") / "export"))
    return {"spec": spec, "pre": pre, "model": model, "train": train, "test": splits["test"], "export": export}


def test_presence_column_in_every_cache_mode(trained):
    spec, pre = trained["spec"], trained["pre"]
    rows = trained["train"].head(5)
    expected = np.ones([5, 4], np.float32)
    for row, col in enumerate([0, 1, 2, 3]):  # picture, caption, reading, colour knocked out in rows 0-3
        expected[row, col] = 0
    for cache in ("none", "memory", "disk"):
        batch = next(iter(mmkeras.make_dataset(spec, rows, pre, with_targets=False, cache=cache)))
        np.testing.assert_array_equal(batch[PRESENCE].numpy(), expected, err_msg=cache)
        assert batch[PRESENCE].dtype == tf.float32
    # A missing picture decodes to zeros, without a file.
    assert float(tf.reduce_max(tf.abs(batch["picture"][0]))) == 0.0
    assert float(tf.reduce_max(batch["picture"][1])) > 0.0
    # Training yields it too, next to the targets.
    inputs, _ = next(iter(mmkeras.make_dataset(spec, trained["train"], pre, training=True)))
    assert inputs[PRESENCE].shape == (spec.training.batch_size, 4)


def test_rows_with_missing_inputs_train_and_predict(trained):
    model, spec, pre = trained["model"], trained["spec"], trained["pre"]
    assert model.jit_compile is True
    assert [layer.name for layer in model.layers if isinstance(layer, MissingEmbedding)] == \
        [f"{n}_missing" for n in NAMES]
    assert isinstance(model.get_layer("modality_dropout"), ModalityDropout)
    rows = knock_out(trained["test"].head(5), spec, {0: "picture", 1: "caption", 2: "reading"})
    probs = model.predict(mmkeras.make_dataset(spec, rows, pre, with_targets=False), verbose=0)["label"]
    assert np.all(np.isfinite(probs)) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_missing_file_cell_ok_but_unknown_path_is_an_error(trained):
    spec, pre = trained["spec"], trained["pre"]
    rows = trained["test"].head(3).copy()
    rows.loc[1, spec.inputs["picture"].column] = "images/no_such_file.png"
    with pytest.raises(mmkeras.DataError, match=r"Row 1 of t, column 'image_path': file not found"):
        mmkeras.make_dataset(spec, rows, pre, table="t")
    feature = pre.features["picture"]
    assert feature.read(tf.constant("")).numpy() == b""
    np.testing.assert_array_equal(decode_or_zeros(feature, tf.constant(b"")).numpy(),
                                  np.zeros(feature.decoded_shape, np.float32))
    assert [is_missing_cell(v) for v in ["", " ", np.nan, None, b"", "a.png", 0.0]] == \
        [True, True, True, True, True, False, False]
    from mmkeras.data.video import read_clip, resolve_clips
    assert list(resolve_clips(pd.Series(["", np.nan], dtype=object), root="/nowhere")) == ["", ""]
    assert read_clip(tf.constant("")).numpy() == b""


def test_save_load_and_export_serves_missing_inputs(trained, tmp_path):
    model, spec, pre = trained["model"], trained["spec"], trained["pre"]
    rows = knock_out(trained["test"].head(4), spec, {0: "picture", 1: "caption", 2: "reading", 3: "colour"})
    expected = model.predict(mmkeras.make_dataset(spec, rows, pre, with_targets=False), verbose=0)["label"]

    path = str(tmp_path / "m.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again.predict(mmkeras.make_dataset(spec, rows, pre, with_targets=False),
                                             verbose=0)["label"], expected, atol=1e-6)
    assert again.get_layer("modality_dropout").rates == [0.3] * 4

    root = os.path.dirname(spec.data.path)

    def file_bytes(column):
        return np.array([open(os.path.join(root, p), "rb").read() if p else b"" for p in rows[column]], object)

    batch = {"picture": file_bytes("image_path"),
             "caption": rows["text"].to_numpy(object), "reading": rows["reading"].to_numpy(np.float32),
             "colour": rows["colour_name"].to_numpy(object)}
    assert batch["picture"][0] == b"" and batch["caption"][1] == "" and np.isnan(batch["reading"][2])
    assert batch["colour"][3] == "" and len(batch["picture"][1]) > 0
    serve = tf.saved_model.load(trained["export"]).signatures["serving_default"]
    served = serve(**{k: tf.constant(v) for k, v in batch.items()})
    np.testing.assert_allclose(served["label_probabilities"].numpy(), expected, atol=1e-5)


def test_missing_embedding_replaces_exactly_the_missing_rows():
    layer = MissingEmbedding(index=1)
    encoded = np.array([[1.0, 2.0], [np.nan, np.inf], [5.0, 6.0]], np.float32)
    presence = np.array([[1, 1], [1, 0], [0, 1]], np.float32)  # column 1: row 1 missing
    layer.build((None, 2))
    layer.embedding.assign([7.0, -7.0])
    out = keras.ops.convert_to_numpy(layer(encoded, presence))
    np.testing.assert_array_equal(out, [[1.0, 2.0], [7.0, -7.0], [5.0, 6.0]])
    again = MissingEmbedding.from_config(layer.get_config())
    assert again.index == 1


def test_modality_dropout_never_drops_all_and_only_in_training():
    layer = ModalityDropout([0.5, 0.5, 0.0], seed=3)
    presence = np.ones([4000, 3], np.float32)
    presence[:1000, 2] = 0  # rows where only the first two inputs are present
    out = keras.ops.convert_to_numpy(layer(presence, training=True))
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert np.all(out <= presence)  # missing stays missing
    assert np.all(out.sum(axis=1) >= 1)  # never all inputs of a row
    np.testing.assert_array_equal(out[:, 2], presence[:, 2])  # rate 0: never dropped
    rate = 1 - out[1000:, 0].mean()  # rows with a rate-0 input present: no keep-one correction
    assert 0.45 < rate < 0.55
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(presence, training=False)), presence)
    both = keras.ops.convert_to_numpy(ModalityDropout([0.9, 0.9], seed=1)(np.ones([500, 2], np.float32),
                                                                       training=True))
    assert np.all(both.sum(axis=1) >= 1) and (both.sum(axis=1) == 1).mean() > 0.9
    assert 0.4 < both[:, 0].mean() < 0.6  # the input kept is chosen at random
    assert ModalityDropout.from_config(layer.get_config()).rates == [0.5, 0.5, 0.0]
    with pytest.raises(ValueError, match=r"rate 0 must be in \[0, 1\)"):
        ModalityDropout([1.0])


def test_spec_rejects_reserved_names_and_bad_rates(demo_manifest):
    spec = tiny_spec_dict(demo_manifest)
    spec["inputs"]["_picture"] = spec["inputs"].pop("picture")
    with pytest.raises(SpecError, match=r"inputs\._picture.*must not start with '_'"):
        mmkeras.load_spec(spec)
    with pytest.raises(SpecError, match=r"training\.modality_dropout.*less than 1"):
        mmkeras.load_spec(tiny_spec_dict(demo_manifest, modality_dropout=1.0))
    spec = tiny_spec_dict(demo_manifest, modality_dropout=0.2)
    spec["inputs"]["caption"]["modality_dropout"] = 0.0
    from mmkeras.builders import modality_dropout_rates
    assert modality_dropout_rates(mmkeras.load_spec(spec)) == [0.2, 0.2, 0.0, 0.2, 0.2]


def test_modality_importance_table(trained):
    table = mmkeras.modality_importance(trained["model"], trained["pre"], trained["test"])
    assert list(table["input"]) == NAMES
    assert isinstance(table, pd.DataFrame)
    np.testing.assert_allclose(table["drop"], table["with_all"] - table["without"])
    assert abs(table["fusion_weight"].sum() - 1) < 1e-4  # weighted fusion: softmax weights
    model = trained["model"]
    logits = keras.ops.convert_to_numpy(model.get_layer("fusion").modality_logits)
    np.testing.assert_allclose(table["fusion_weight"], np.exp(logits) / np.exp(logits).sum(), atol=1e-5)
