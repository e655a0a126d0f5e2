"""Fusion layers: numpy reference math with hand-set weights, presence masks, serialisation, XLA, end to end."""

import copy
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from helpers import tiny_spec_dict
from mmkeras.demo.run import raw_batch
from mmkeras.fusion.registry import FUSIONS, fusion_options
from mmkeras.fusion import ConcatFusion, FusionLayer, MeanFusion, SumFusion, TransformerFusion
from mmkeras.testing import layer_round_trip

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host

# Small options per type, so each layer is cheap to build and compile.
OPTIONS = {
    "concat": {}, "sum": {"projection_units": 4}, "mean": {"projection_units": 4},
    "weighted": {"projection_units": 4}, "attention": {"projection_units": 4}, "gated": {"projection_units": 4},
    "transformer": {"projection_units": 8, "num_heads": 2, "tokens_per_input": 2},
}
TYPES = list(OPTIONS)
RNG = np.random.default_rng(0)
A = RNG.normal(size=(4, 3)).astype("float32")
B = RNG.normal(size=(4, 5)).astype("float32")
C = RNG.normal(size=(4, 2)).astype("float32")
#              example: 0 all present, 1 B missing, 2 A and C missing, 3 all missing
PRESENCE = [np.array([1, 1, 0, 0], "float32"), np.array([1, 0, 1, 0], "float32"), np.array([1, 1, 0, 0], "float32")]


def make(kind, hidden_units=(6,), **extra):
    return FUSIONS.get(kind)(hidden_units=hidden_units, dropout=0.0, **{**OPTIONS[kind], **extra})


def np_out(layer, inputs, presence=None):
    return keras.ops.convert_to_numpy(layer(inputs, presence, training=False))


def set_dense(dense, kernel, bias=None):
    dense.set_weights([np.asarray(kernel, "float32"),
                       np.zeros(dense.units, "float32") if bias is None else np.asarray(bias, "float32")])


def softmax(x, mask):
    e = np.where(mask > 0, np.exp(x - np.where(mask > 0, x, -np.inf).max(-1, keepdims=True)), 0.0)
    return e / np.maximum(e.sum(-1, keepdims=True), 1e-30)


def hand_set_projections(layer, rng):
    kernels = [rng.normal(size=(d, layer.units)).astype("float32") for d in (3, 5, 2)]
    biases = [rng.normal(size=layer.units).astype("float32") for _ in kernels]
    for dense, k, b in zip(layer.projections, kernels, biases):
        set_dense(dense, k, b)
    mask = np.stack(PRESENCE, 1)
    return [(x @ k + b) * mask[:, i:i + 1] for i, (x, k, b) in enumerate(zip((A, B, C), kernels, biases))], mask


# ---- hand-set weights against numpy ---------------------------------------------------------------

def test_concat_by_hand_zeroes_missing_inputs():
    fusion = ConcatFusion(hidden_units=[2])
    fusion([A, B, C])
    kernel = RNG.normal(size=(10, 2)).astype("float32")
    set_dense(fusion.dense[0], kernel)
    mask = np.stack(PRESENCE, 1)
    joined = np.concatenate([A * mask[:, :1], B * mask[:, 1:2], C * mask[:, 2:]], 1)
    np.testing.assert_allclose(np_out(fusion, [A, B, C], PRESENCE), np.maximum(joined @ kernel, 0), atol=1e-5)
    np.testing.assert_allclose(np_out(ConcatFusion(hidden_units=[]), [A, B, C], PRESENCE), joined)


@pytest.mark.parametrize("kind", ["sum", "mean"])
def test_sum_and_mean_by_hand(kind):
    fusion = make(kind, hidden_units=[])
    fusion([A, B, C])
    projected, mask = hand_set_projections(fusion, np.random.default_rng(1))
    expected = sum(projected)
    if kind == "mean":
        expected = expected / np.maximum(mask.sum(1, keepdims=True), 1)
    np.testing.assert_allclose(np_out(fusion, [A, B, C], PRESENCE), expected, atol=1e-5)
    assert np.all(np_out(fusion, [A, B, C], PRESENCE)[3] == 0)  # nothing present: zeros


def test_weighted_by_hand_renormalises_over_present_inputs():
    fusion = make("weighted", hidden_units=[])
    fusion([A, B, C])
    projected, mask = hand_set_projections(fusion, np.random.default_rng(2))
    logits = np.array([0.5, -1.0, 2.0], "float32")
    fusion.modality_logits.assign(logits)
    weights = softmax(np.tile(logits, (4, 1)), mask)
    e = np.exp(logits.astype("float64"))
    np.testing.assert_allclose(weights[1], [e[0] / (e[0] + e[2]), 0, e[2] / (e[0] + e[2])], rtol=1e-6)
    expected = sum(weights[:, i:i + 1] * projected[i] for i in range(3))
    np.testing.assert_allclose(np_out(fusion, [A, B, C], PRESENCE), expected, atol=1e-5)
    np.testing.assert_allclose(fusion.modality_weights([A, B, C], PRESENCE), weights, atol=1e-6)
    np.testing.assert_allclose(fusion.modality_weights([A, B, C]), np.tile(softmax(logits, np.ones(3)), (4, 1)),
                               atol=1e-6)


def test_attention_by_hand():
    fusion = make("attention", hidden_units=[])
    fusion([A, B, C])
    projected, mask = hand_set_projections(fusion, np.random.default_rng(3))
    w = np.random.default_rng(4).normal(size=(12, 3)).astype("float32")
    b = np.array([0.1, -0.2, 0.3], "float32")
    set_dense(fusion.scorer, w, b)
    a = softmax(np.concatenate(projected, 1) @ w + b, mask)
    expected = np.concatenate([a[:, i:i + 1] * projected[i] for i in range(3)], 1)
    np.testing.assert_allclose(np_out(fusion, [A, B, C], PRESENCE), expected, atol=1e-5)
    np.testing.assert_allclose(fusion.modality_weights([A, B, C], PRESENCE), a, atol=1e-6)
    np.testing.assert_allclose(a[:3].sum(1), 1, rtol=1e-6)


def test_gated_by_hand_and_gates_forced_to_one_modality():
    fusion = make("gated", hidden_units=[])
    fusion([A, B, C])
    rng = np.random.default_rng(5)
    kernels = [rng.normal(size=(d, 4)).astype("float32") for d in (3, 5, 2)]
    gates = [rng.normal(size=(10, 4)).astype("float32") for _ in range(3)]
    for dense, k in zip(fusion.projections, kernels):
        set_dense(dense, k)
    for dense, g in zip(fusion.gates, gates):
        set_dense(dense, g)
    mask = np.stack(PRESENCE, 1)
    xs = [x * mask[:, i:i + 1] for i, x in enumerate((A, B, C))]
    joined = np.concatenate(xs, 1)
    z = [1 / (1 + np.exp(-(joined @ g))) * mask[:, i:i + 1] for i, g in enumerate(gates)]
    expected = sum(zi * np.tanh(x @ k) for zi, x, k in zip(z, xs, kernels))
    np.testing.assert_allclose(np_out(fusion, [A, B, C], PRESENCE), expected, atol=1e-5)
    np.testing.assert_allclose(fusion.modality_weights([A, B, C], PRESENCE),
                               np.stack([zi.mean(1) for zi in z], 1), atol=1e-6)

    # Gate of B forced open (1), the others shut (0): the output is B's tanh projection alone.
    for i, dense in enumerate(fusion.gates):
        set_dense(dense, np.zeros((10, 4)), np.full(4, 100.0 if i == 1 else -100.0))
    np.testing.assert_allclose(np_out(fusion, [A, B, C]), np.tanh(B @ kernels[1]), atol=1e-6)
    np.testing.assert_allclose(fusion.modality_weights([A, B, C]), np.tile([0.0, 1.0, 0.0], (4, 1)), atol=1e-6)


def _layer_norm(x, norm):
    gamma, beta = norm.get_weights()
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + norm.epsilon) * gamma + beta


def _block(x, keep, block):
    """numpy TransformerBlock (post-norm, or pre-norm with `norm_first`): x, [b, T] key mask -> x."""
    att = block.attention
    wq, bq = att.query_dense.get_weights()
    wk, bk = att.key_dense.get_weights()
    wv, bv = att.value_dense.get_weights()
    wo, bo = att.output_dense.get_weights()

    def attention(y):
        q = (np.einsum("btk,khd->bthd", y, wq) + bq) / math.sqrt(wq.shape[-1])
        k = np.einsum("btk,khd->bthd", y, wk) + bk
        v = np.einsum("btk,khd->bthd", y, wv) + bv
        scores = np.einsum("bqhd,bshd->bhqs", q, k)
        probs = softmax(scores, np.broadcast_to(keep[:, None, None, :], scores.shape).astype("float32"))
        return np.einsum("bhqs,bshd,hdk->bqk", probs, v, wo) + bo

    def feed_forward(y):
        wh, bh = block.hidden.get_weights()
        h = y @ wh + bh
        h = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))  # exact gelu
        wp, bp = block.projection.get_weights()
        return h @ wp + bp

    if block.norm_first:
        x = x + attention(_layer_norm(x, block.attention_norm))
        return x + feed_forward(_layer_norm(x, block.output_norm))
    x = _layer_norm(x + attention(x), block.attention_norm)
    return _layer_norm(x + feed_forward(x), block.output_norm)


def test_transformer_matches_numpy_reference():
    fusion = make("transformer", hidden_units=[], num_layers=2)
    fusion([A, B, C])
    rng = np.random.default_rng(6)
    fusion.modality_embeddings.assign(rng.normal(size=(3, 8)).astype("float32"))
    fusion.cls_token.assign(rng.normal(size=8).astype("float32"))
    mask = np.stack(PRESENCE, 1)
    tokens = [fusion.cls_token.numpy()[None, None, :].repeat(4, 0)]
    for i, (x, dense) in enumerate(zip((A, B, C), fusion.tokenizers)):
        kernel, bias = dense.get_weights()
        tokens.append(((x * mask[:, i:i + 1]) @ kernel + bias).reshape(4, 2, 8)
                      + fusion.modality_embeddings.numpy()[i])
    x = np.concatenate(tokens, 1)
    keep = np.concatenate([np.ones((4, 1)), mask.repeat(2, 1)], 1)
    for block in fusion.blocks:
        assert block.norm_first  # the fusion uses pre-norm blocks, then a final layer norm on CLS
        x = _block(x, keep, block)
    x = _layer_norm(x, fusion.final_norm)
    np.testing.assert_allclose(np_out(fusion, [A, B, C], PRESENCE), x[:, 0], atol=1e-4)
    # The modality-type embedding matters: swapping two types changes the output.
    fusion.modality_embeddings.assign(fusion.modality_embeddings.numpy()[[1, 0, 2]])
    assert np.abs(np_out(fusion, [A, B, C], PRESENCE) - x[:, 0]).max() > 1e-3


# ---- presence contract, for every type ---------------------------------------------------------------

@pytest.mark.parametrize("kind", TYPES)
def test_presence_contract(kind):
    fusion = make(kind)
    full = np_out(fusion, [A, B, C])
    np.testing.assert_array_equal(np_out(fusion, [A, B, C], [np.ones(4, "float32")] * 3), full)
    masked = np_out(fusion, [A, B, C], PRESENCE)
    # New values (NaN included) in the masked slots leave the output unchanged.
    mask = np.stack(PRESENCE, 1)
    changed = [np.where(mask[:, i:i + 1] > 0, x, v) for i, (x, v) in
               enumerate(zip((A, B, C), (np.full_like(A, np.nan), 7 * B + 3, -C)))]
    np.testing.assert_array_equal(np_out(fusion, changed, PRESENCE), masked)
    assert np.all(np.isfinite(masked))
    assert np.abs(masked[1] - full[1]).max() > 1e-4  # and a missing input does change the result


def test_options_become_spec_keys_and_bad_values_are_named():
    assert fusion_options("concat") == []
    for kind in ("sum", "mean", "weighted", "attention", "gated"):
        assert fusion_options(kind) == ["projection_units"]
    assert fusion_options("transformer") == ["projection_units", "tokens_per_input", "num_layers", "num_heads",
                                             "intermediate_dim", "attention_dropout"]
    with pytest.raises(ValueError, match="`projection_units` must be a positive integer or None, got 0"):
        SumFusion(projection_units=0)
    with pytest.raises(ValueError, match="`num_heads` must be a positive integer, got 'two'"):
        TransformerFusion(num_heads="two")
    with pytest.raises(ValueError, match="3 inputs but 2 presence tensors"):
        ConcatFusion()([A, B, C], PRESENCE[:2])
    with pytest.raises(ValueError, match=r"input 1 must be \[batch, features\]"):
        MeanFusion()([A, np.zeros((4, 2, 2), "float32")])
    with pytest.raises(NotImplementedError):
        FusionLayer(hidden_units=[])([A])
    spec = mmkeras.load_spec(_spec_dict({"type": "transformer", "num_heads": 2, "tokens_per_input": 3}))
    assert dict(spec.fusion.options) == {"num_heads": 2, "tokens_per_input": 3}
    with pytest.raises(mmkeras.SpecError, match="fusion.num_heads: unknown key.*projection_units"):
        mmkeras.load_spec(_spec_dict({"type": "gated", "num_heads": 2}))


def _spec_dict(fusion):
    return {"spec_version": 1, "name": "t", "data": {"path": "t.csv"},
            "inputs": {"x": {"type": "numeric", "column": "x"}},
            "fusion": fusion, "outputs": {"y": {"type": "regression", "column": "y"}}}


@pytest.mark.parametrize("kind", TYPES)
def test_config_round_trip_and_keras_save_load(kind, tmp_path):
    loaded = layer_round_trip(make(kind, hidden_units=[5, 3], name="f"), [A, B, C], PRESENCE, tmp_dir=str(tmp_path))
    assert any(type(layer) is FUSIONS.get(kind) for layer in loaded.layers)


@pytest.mark.parametrize("kind", TYPES)
def test_xla_fit_and_keras_save_load(kind, tmp_path):
    values = [keras.Input((3,), name="a"), keras.Input((5,), name="b"), keras.Input((2,), name="c")]
    present = [keras.Input((), name=f"{n}_present") for n in "abc"]
    model = keras.Model(values + present, keras.layers.Dense(2)(make(kind)(values, present)))
    model.compile("sgd", "mse", jit_compile=True)
    x = [A, B, C] + PRESENCE
    model.fit(x, np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    assert model.jit_compile is True
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(x)), keras.ops.convert_to_numpy(model(x)),
                               rtol=1e-5, atol=1e-6)
    assert any(type(layer) is FUSIONS.get(kind) for layer in again.layers)


@pytest.mark.parametrize("kind", TYPES)
def test_mixed_precision_forward(kind):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        fusion = make(kind)
        out = fusion([A, B, C], PRESENCE)
    finally:
        keras.config.set_dtype_policy(previous)
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))))


# ---- end to end: every type trains on the demo data and exports --------------------------------------

@pytest.fixture(scope="module")
def demo_setup(demo_manifest):
    spec_dict = tiny_spec_dict(demo_manifest)
    for name in ("picture", "sound"):  # three cheap inputs keep the seven builds fast
        spec_dict["inputs"].pop(name)
    spec_dict["training"]["jit_compile"] = False  # XLA is checked per layer in test_xla_fit_and_keras_save_load
    spec = mmkeras.load_spec(spec_dict)
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    train = mmkeras.make_dataset(spec, splits["train"], pre, training=True)
    test_df = splits["test"].head(8).reset_index(drop=True)
    test_x = next(iter(mmkeras.make_dataset(spec, test_df, pre, with_targets=False)))
    return spec_dict, pre, train, test_df, test_x


@pytest.mark.parametrize("kind", TYPES)
def test_each_fusion_trains_and_exports(kind, demo_setup, tmp_path):
    spec_dict, pre, train, test_df, test_x = demo_setup
    spec_dict = copy.deepcopy(spec_dict)
    spec_dict["fusion"] = {"type": kind, "hidden_units": [16], **OPTIONS[kind]}
    spec = mmkeras.load_spec(spec_dict)
    model = mmkeras.build_model(spec, pre)
    assert type(model.get_layer("fusion")) is FUSIONS.get(kind)
    history = model.fit(train, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    path = mmkeras.export_saved_model(model, pre, str(tmp_path / "export"))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    batch = raw_batch(spec, test_df, spec.data.root)
    served = serve(**{k: tf.constant(v) for k, v in batch.items()})["label_probabilities"].numpy()
    expected = keras.ops.convert_to_numpy(model(test_x, training=False)["label"])
    np.testing.assert_allclose(served, expected, atol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_block_matches_numpy_reference_both_norm_orders(norm_first):
    from mmkeras.layers import TransformerBlock

    block = TransformerBlock(num_heads=2, intermediate_dim=12, norm_first=norm_first)
    x = np.random.default_rng(3).normal(size=(2, 4, 8)).astype("float32")
    keep = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], "float32")
    out = block(x, mask=keep > 0).numpy()
    np.testing.assert_allclose(out, _block(x, keep, block), atol=1e-4)
    restored = TransformerBlock.from_config(block.get_config())
    assert restored.norm_first is norm_first
