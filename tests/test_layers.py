"""Custom layers: hand-computed outputs, config round trip, .keras save/load."""

import os

import keras
import numpy as np

from mmkeras.fusion import ConcatFusion
from mmkeras.layers import MaskedMeanPooling
from mmkeras.testing import layer_round_trip


def test_masked_mean_pooling_by_hand():
    x = np.arange(12, dtype="float32").reshape(2, 3, 2)
    mask = np.array([[True, False, True], [False, False, False]])
    out = keras.ops.convert_to_numpy(MaskedMeanPooling()(x, mask=mask))
    np.testing.assert_allclose(out[0], (x[0, 0] + x[0, 2]) / 2)
    np.testing.assert_allclose(out[1], [0.0, 0.0])  # empty sequence: zeros, not NaN
    np.testing.assert_allclose(keras.ops.convert_to_numpy(MaskedMeanPooling()(x)), x.mean(axis=1))


def test_masked_mean_pooling_follows_embedding_mask():
    ids = keras.Input((4,), dtype="int64")
    emb = keras.layers.Embedding(5, 1, mask_zero=True, embeddings_initializer="ones")
    model = keras.Model(ids, MaskedMeanPooling()(emb(ids)))
    out = model.predict(np.array([[1, 2, 0, 0], [0, 0, 0, 0]]), verbose=0)
    np.testing.assert_allclose(out[:, 0], [1.0, 0.0])


def test_concat_fusion_by_hand():
    fusion = ConcatFusion(hidden_units=[2], dropout=0.5)
    a, b = np.array([[1.0, 2.0]], "float32"), np.array([[3.0]], "float32")
    fusion([a, b])
    kernel = np.array([[1, 0], [0, 1], [1, -1]], "float32")
    fusion.dense[0].set_weights([kernel, np.zeros(2, "float32")])
    out = keras.ops.convert_to_numpy(fusion([a, b], training=False))
    np.testing.assert_allclose(out, np.maximum(np.concatenate([a, b], 1) @ kernel, 0))
    no_hidden = ConcatFusion(hidden_units=[])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(no_hidden([a, b])), [[1, 2, 3]])


def test_configs_round_trip_and_keras_save_load(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=(2, 5, 2)).astype("float32")
    layer_round_trip(ConcatFusion(hidden_units=[4, 3], dropout=0.25, name="f"), [a, a[:, :2]], tmp_dir=str(tmp_path))
    layer_round_trip(MaskedMeanPooling(name="p"), b, tmp_dir=str(tmp_path))


def test_keras_save_load_gives_same_outputs(tmp_path):
    a, b = keras.Input((3,), name="a"), keras.Input((5, 2), name="b")
    pooled = MaskedMeanPooling()(b)
    out = ConcatFusion(hidden_units=[4], dropout=0.1)([a, pooled])
    model = keras.Model({"a": a, "b": b}, out)
    x = {"a": np.random.rand(2, 3).astype("float32"), "b": np.random.rand(2, 5, 2).astype("float32")}
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
