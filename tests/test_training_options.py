"""training.cache / deterministic / precision: same data, same contracts."""

import keras
import numpy as np
import pytest

import mmkeras
from helpers import tiny_spec_dict

pytestmark = pytest.mark.usefixtures("xla_as_on_gpu")  # jit_compile: auto resolves as on a GPU host


@pytest.fixture(scope="module")
def setup(demo_manifest):
    spec = mmkeras.load_spec(tiny_spec_dict(demo_manifest))
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    return spec, splits, pre


def batches(ds):
    return [{k: v.numpy() for k, v in x.items()} for x, _ in ds]


@pytest.mark.parametrize("cache", ["memory", "disk"])
def test_cached_evaluation_pipeline_equals_uncached(setup, cache, tmp_path):
    spec, splits, pre = setup
    plain = batches(mmkeras.make_dataset(spec, splits["test"], pre))
    ds = mmkeras.make_dataset(spec, splits["test"], pre, cache=cache, cache_dir=str(tmp_path))
    for epoch in range(2):  # the second epoch is served from the cache
        cached = batches(ds)
        assert len(cached) == len(plain)
        for a, b in zip(plain, cached):
            for name in a:
                np.testing.assert_array_equal(a[name], b[name])
    if cache == "disk":
        assert any(p.name.startswith("mmkeras-cache-") for p in tmp_path.iterdir())


@pytest.mark.parametrize("cache", ["none", "memory"])
def test_training_pipeline_reshuffles_every_epoch_and_keeps_every_row(setup, cache):
    spec, splits, pre = setup
    ds = mmkeras.make_dataset(spec, splits["train"], pre, training=True, batch_size=4, cache=cache)
    epochs = [np.concatenate([x["reading"].numpy()[:, 0] for x, _ in ds]) for _ in range(2)]
    assert len(epochs[0]) == len(splits["train"]) // 4 * 4
    assert not np.array_equal(epochs[0], epochs[1])
    assert x_shape_static(ds)


def x_shape_static(ds):
    spec_x, _ = ds.element_spec
    return all(s.shape[0] is not None for s in spec_x.values())


def test_deterministic_pipeline_repeats_its_order(demo_manifest):
    spec = mmkeras.load_spec(tiny_spec_dict(demo_manifest, deterministic=True))
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    first = [x["reading"].numpy() for x, _ in mmkeras.make_dataset(spec, splits["train"], pre, training=True)]
    second = [x["reading"].numpy() for x, _ in mmkeras.make_dataset(spec, splits["train"], pre, training=True)]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(second))


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_outputs_float32_and_xla_on(demo_manifest, precision):
    spec = mmkeras.load_spec(tiny_spec_dict(demo_manifest, precision=precision))
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    assert model.get_layer("picture_encoder").get_layer("conv_0").compute_dtype == precision.split("_")[1]
    assert model.get_layer("label").compute_dtype == "float32"
    assert model.jit_compile is True
    if precision == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    history = model.fit(mmkeras.make_dataset(spec, splits["train"], pre, training=True), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    x = next(iter(mmkeras.make_dataset(spec, splits["test"], pre, with_targets=False)))
    assert model.predict(x, verbose=0)["label"].dtype == np.float32
