"""Text encoders (bag_of_embeddings, cnn, bilstm, transformer), their layers and pretrained vectors."""

import os

import keras
import numpy as np
import pandas as pd
import pytest

import mmkeras
from mmkeras.encoders.text import read_word_vectors
from mmkeras.errors import DataError
from mmkeras.layers import MaskedMeanPooling, PositionEmbedding, TransformerBlock

TEXTS = ["good hotel", "bad room", "very good", "very bad", "good clean room", "bad noisy hotel", "", "good"]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg", "neg", "pos"]
SMALL = {"bag_of_embeddings": {"embedding_dim": 8}, "cnn": {"embedding_dim": 8, "filters": 8, "kernel_size": 3},
         "bilstm": {"embedding_dim": 8, "units": 4},
         "transformer": {"embedding_dim": 8, "num_layers": 1, "num_heads": 2, "intermediate_dim": 8}}


def text_spec(encoder, sequence_length=4, base_dir=None, encoder_options=None, **options):
    raw = {"spec_version": 1, "name": "t",
           "inputs": {"review": {"type": "text", "column": "text", "sequence_length": sequence_length,
                                 "encoder": {"type": encoder, **(SMALL[encoder] if encoder_options is None
                                                                 else encoder_options)}, **options}},
           "outputs": {"y": {"type": "classification", "column": "label"}},
           "training": {"batch_size": 4, "jit_compile": True}}
    return mmkeras.load_spec(raw, base_dir=base_dir)


def build(encoder, **options):
    spec = text_spec(encoder, **options)
    df = pd.DataFrame({"text": TEXTS, "label": LABELS})
    pre = mmkeras.Preprocessor(spec).adapt(df)
    return spec, df, pre, mmkeras.build_model(spec, pre)


@pytest.mark.parametrize("encoder", ["bag_of_embeddings", "cnn", "bilstm", "transformer"])
def test_encoder_compiles_with_xla_and_trains(encoder):
    spec, df, pre, model = build(encoder)
    assert model.jit_compile is True
    history = model.fit(mmkeras.make_dataset(spec, df, pre, training=True), epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    ids = pre({"review": np.array(["", "good hotel"], object)})["review"]
    vectors = keras.ops.convert_to_numpy(model.get_layer("review_encoder")(ids))
    assert np.all(np.isfinite(vectors))  # an empty text gives no NaN
    assert not np.allclose(vectors[0], vectors[1])


def test_bilstm_avoids_cudnn_so_xla_stays_on(monkeypatch):
    """Keras marks a cuDNN-eligible LSTM not jit-compilable when cuDNN is usable (a GPU); bilstm must not be."""
    monkeypatch.setattr(keras.src.backend, "cudnn_ok", lambda *args, **kwargs: True)  # as on a GPU
    spec, df, pre, model = build("bilstm")  # build_model raises when Keras turned XLA off
    lstms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.LSTM)]
    assert len(lstms) == 2 and all(lstm.use_cudnn is False and lstm.supports_jit for lstm in lstms)
    assert model.jit_compile is True


@pytest.mark.parametrize("encoder", ["bilstm", "transformer"])
def test_padding_is_masked(encoder):
    """The encoder on [a, b, 0, 0, 0, 0] equals its layers run on [a, b] alone."""
    spec, _, pre, model = build(encoder, sequence_length=6)
    enc = model.get_layer("review_encoder")
    ids = pre({"review": np.array(["good clean", "bad"], object)})["review"].numpy()
    assert ids[0, 2] == 0 and ids[0, 1] > 1
    padded = keras.ops.convert_to_numpy(enc(ids[:1]))
    x = enc.get_layer("embedding")(ids[:1, :2])
    if encoder == "bilstm":
        x = enc.get_layer("bilstm")(x)
    else:
        x = enc.get_layer("block_0")(enc.get_layer("position_embedding")(x))
        x = MaskedMeanPooling()(x)
    np.testing.assert_allclose(padded, keras.ops.convert_to_numpy(x), atol=1e-5)


def test_position_embedding_by_hand_and_mask():
    layer = PositionEmbedding(sequence_length=4, initializer="zeros")
    x = np.ones([2, 3, 2], "float32")
    layer.build(x.shape)
    table = np.arange(8, dtype="float32").reshape(4, 2)
    layer.set_weights([table])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), x + table[:3][None])
    mask = np.array([[True, True, False]] * 2)
    assert layer.compute_mask(x, mask) is mask


def test_transformer_block_ignores_padded_values():
    block = TransformerBlock(num_heads=2, intermediate_dim=8)
    x = np.random.default_rng(0).normal(size=(1, 4, 6)).astype("float32")
    mask = np.array([[True, True, False, False]])
    other = x.copy()
    other[0, 2:] = 100.0  # different values at padded steps
    a = keras.ops.convert_to_numpy(block(x, mask=mask))
    b = keras.ops.convert_to_numpy(block(other, mask=mask))
    np.testing.assert_allclose(a[0, :2], b[0, :2], atol=1e-5)
    assert not np.allclose(keras.ops.convert_to_numpy(block(other))[0, :2], a[0, :2], atol=1e-3)


def test_layer_configs_round_trip_and_keras_save_load(tmp_path):
    for layer in (PositionEmbedding(7, name="p"), TransformerBlock(2, 16, dropout=0.1, epsilon=1e-6, name="b")):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    ids = keras.Input((5,), dtype="int64")
    x = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
    x = TransformerBlock(2, 8)(PositionEmbedding(5)(x))
    model = keras.Model(ids, MaskedMeanPooling()(x))
    data = np.array([[3, 4, 0, 0, 0], [1, 2, 3, 4, 5]])
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again.predict(data, verbose=0), model.predict(data, verbose=0), atol=1e-6)


def write_vectors(path, rows):
    path.write_text("".join(f"{w} {' '.join(str(v) for v in vec)}\n" for w, vec in rows.items()), encoding="utf-8")
    return str(path)


def test_read_word_vectors(tmp_path):
    path = write_vectors(tmp_path / "v.txt", {"good": [1, 2, 3], "Hotel": [4, 5, 6], "zebra": [7, 8, 9]})
    matrix, found = read_word_vectors(path, ["", "[UNK]", "good", "hotel", "room"])
    assert matrix.shape == (5, 3) and matrix.dtype == np.float32 and found == 2
    np.testing.assert_array_equal(matrix[0], 0)             # padding
    np.testing.assert_array_equal(matrix[2:4], [[1, 2, 3], [4, 5, 6]])  # exact, then lower-cased match
    assert np.all(matrix[[1, 4]] != 0)                      # missing words: random
    again, _ = read_word_vectors(path, ["", "[UNK]", "good", "hotel", "room"])
    np.testing.assert_array_equal(again, matrix)            # seeded
    with pytest.raises(DataError, match="none of the 2 vocabulary words"):
        read_word_vectors(path, ["", "[UNK]", "cat"])
    (tmp_path / "bad.txt").write_text("good 1 2 3\nbad 1\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        read_word_vectors(str(tmp_path / "bad.txt"), ["", "[UNK]", "good"])


@pytest.mark.parametrize("trainable", [True, False])
def test_pretrained_embeddings_from_a_spec_relative_file(tmp_path, trainable):
    write_vectors(tmp_path / "vectors.txt", {"good": [0.5, -0.5, 0.25], "bad": [-1, 1, 0], "the": [9, 9, 9]})
    spec = text_spec("bag_of_embeddings", base_dir=str(tmp_path), encoder_options={},  # width from the file
                     embeddings="vectors.txt", embeddings_trainable=trainable)
    assert spec.inputs["review"].embeddings == str(tmp_path / "vectors.txt")
    df = pd.DataFrame({"text": TEXTS, "label": LABELS})
    pre = mmkeras.Preprocessor(spec).adapt(df)
    model = mmkeras.build_model(spec, pre)
    assert model.jit_compile is True
    embedding = model.get_layer("review_encoder").get_layer("embedding")
    assert embedding.output_dim == 3 and embedding.trainable is trainable
    vocab = pre.features["review"].vocabulary
    before = keras.ops.convert_to_numpy(embedding.embeddings)
    np.testing.assert_allclose(before[vocab.index("good")], [0.5, -0.5, 0.25])
    np.testing.assert_allclose(before[vocab.index("bad")], [-1, 1, 0])
    model.fit(mmkeras.make_dataset(spec, df, pre, training=True), epochs=1, verbose=0)
    after = keras.ops.convert_to_numpy(embedding.embeddings)
    assert np.array_equal(before, after) is (not trainable)


def test_embedding_dim_that_disagrees_with_the_file_is_an_error(tmp_path):
    write_vectors(tmp_path / "vectors.txt", {"good": [1, 2, 3]})
    spec = text_spec("bag_of_embeddings", base_dir=str(tmp_path), embeddings="vectors.txt")  # embedding_dim 8
    pre = mmkeras.Preprocessor(spec).adapt(pd.DataFrame({"text": TEXTS, "label": LABELS}))
    with pytest.raises(ValueError, match="embedding_dim=8.*3 dimensions"):
        mmkeras.build_model(spec, pre)
