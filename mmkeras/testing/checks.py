"""Checks the tests repeat for many features and layers: three ways through tf.data, a layer's round trip."""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf


def three_ways(fn, examples, *, per_batch=False, dtype=None, batch_size=2):
    """Runs a tf.data function three ways: eagerly, mapped over an unbatched and over a batched dataset.

    A preprocessing function must give the same values in all three: called
    eagerly, traced by `Dataset.map` one example at a time, and traced on
    batches.

    Args:
        fn: a per-example function (`decode`-like: one example in, one out),
            or with `per_batch=True` a per-batch function (`transform`-like:
            `[batch, ...]` in and out).
        examples: the examples (a list of bytes, strings, numbers or arrays).
        per_batch: `fn` works on batches: eagerly it gets every example at
            once, unbatched each example as a batch of one.
        dtype: dtype of the tensor the examples become (default: inferred).
        batch_size: batch size of the batched way.

    Returns:
        `(eager, unbatched, batched)`: numpy arrays with one row per example.

    Example:

    >>> eager, unbatched, batched = three_ways(lambda x: x * 2.0, [1.0, 2.0, 3.0])
    >>> eager.tolist() == unbatched.tolist() == batched.tolist() == [2.0, 4.0, 6.0]
    True
    >>> ways = three_ways(lambda b: tf.strings.length(b), ["a", "bcd"], per_batch=True)
    >>> [w.tolist() for w in ways]
    [[1, 3], [1, 3], [1, 3]]
    """
    values = tf.constant(examples, dtype)
    dataset = tf.data.Dataset.from_tensor_slices(values)
    if per_batch:
        eager = np.asarray(fn(values))
        unbatched = np.stack([np.asarray(y) for y in dataset.map(lambda v: fn(v[None])[0])])
        batched = np.concatenate([np.asarray(y) for y in dataset.batch(batch_size).map(fn)])
    else:
        eager = np.stack([np.asarray(fn(tf.constant(x, dtype))) for x in examples])
        unbatched = np.stack([np.asarray(y) for y in dataset.map(fn)])
        batched = np.concatenate([np.asarray(y) for y in dataset.map(fn).batch(batch_size)])
    return eager, unbatched, batched


def _numpy(structure):
    return [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(structure)]


def layer_round_trip(layer, inputs, *more_inputs, tmp_dir=None, rtol=1e-6, atol=1e-6):
    """Checks that a layer survives its config and a `.keras` save/load, with equal outputs.

    1. `get_config` -> `from_config` -> `get_config` gives the same config,
       also through `keras.saving.serialize_keras_object`.
    2. A functional model `layer(inputs, *more_inputs)` saved as `.keras`
       and loaded again gives the same outputs on `inputs` (inference mode).

    Args:
        layer: the layer (built or not).
        inputs: its first call argument as numpy arrays: an array, or a list
            or dict of arrays (batch first).
        *more_inputs: further positional call arguments, the same way
            (e.g. a fusion's presence flags).
        tmp_dir: where the `.keras` file goes (default: a new temporary folder).
        rtol, atol: tolerance of the output comparison.

    Returns:
        The loaded model.

    Example:

    >>> model = layer_round_trip(mmkeras.layers.MaskedMeanPooling(), np.ones((2, 3, 4), "float32"))
    >>> model.output_shape
    (None, 4)
    """
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config, "from_config(get_config()) differs"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert restored.get_config() == config, "serialize/deserialize_keras_object changes the config"
    arrays = (inputs,) + more_inputs
    symbolic = keras.tree.map_structure(
        lambda a: keras.Input(shape=np.shape(a)[1:], dtype=str(np.asarray(a).dtype)), arrays)
    model = keras.Model(keras.tree.flatten(symbolic), layer(*symbolic))
    path = os.path.join(tmp_dir or tempfile.mkdtemp(), f"{layer.name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    flat = [np.asarray(a) for a in keras.tree.flatten(arrays)]
    for got, expected in zip(_numpy(loaded(flat, training=False)), _numpy(model(flat, training=False))):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    return loaded
