"""The contrastive dual encoder: one tower per input of `task.pair`, symmetric InfoNCE.

Each tower is the input's encoder (the same nested `<input>_encoder` model
`build_model` uses), a Dense projection to `task.embedding_dim` and L2
normalisation, so the similarity of two items is the cosine of their
embeddings. Training follows CLIP: the rows of a batch are the positive
pairs, every other row of the batch is a negative, and the loss is the mean
of the cross-entropies over the rows and over the columns of the similarity
matrix scaled by a learnable logit scale (1 / temperature).
"""

import math

import keras
from keras import ops

from mmkeras.builders import build_encoder, model_scope
from mmkeras.specs import load_spec
from mmkeras.training import compile_model

# CLIP clamps the logit scale at 100 (temperature 0.01); below, a scale under 1
# (temperature above 1) would only flatten the softmax, so it is clamped too.
MAX_LOGIT_SCALE = 100.0
MIN_LOGIT_SCALE = 1.0


def info_nce_loss(a, b, logit_scale):
    """Symmetric InfoNCE (CLIP) loss of a batch of paired, L2-normalised embeddings.

    `logits = logit_scale * a @ b.T`; row `i`'s positive is column `i`. The
    loss is `(CE(logits, i) + CE(logits.T, i)) / 2`, averaged over the batch.

    Args:
        a, b: `[batch, dim]` embeddings; row i of `a` pairs with row i of `b`.
        logit_scale: a scalar, 1 / temperature.

    Returns:
        A float32 scalar.

    Example:

    >>> a = keras.ops.eye(3)
    >>> round(float(info_nce_loss(a, a, 10.0)), 6)   # near 0: each row matches only itself
    9.1e-05
    """
    a = ops.cast(a, "float32")
    b = ops.cast(b, "float32")
    logits = ops.cast(logit_scale, "float32") * ops.matmul(a, ops.transpose(b))
    labels = ops.arange(ops.shape(logits)[0])
    rows = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    columns = keras.losses.sparse_categorical_crossentropy(labels, ops.transpose(logits), from_logits=True)
    return (ops.mean(rows) + ops.mean(columns)) / 2.0


def in_batch_accuracy(a, b):
    """Fraction of rows (both directions averaged) whose most similar partner in the batch is the true one.

    Example:

    >>> float(in_batch_accuracy(keras.ops.eye(4), keras.ops.eye(4)))
    1.0
    """
    similarity = ops.matmul(ops.cast(a, "float32"), ops.transpose(ops.cast(b, "float32")))
    labels = ops.arange(ops.shape(similarity)[0])
    rows = ops.cast(ops.equal(ops.argmax(similarity, axis=1), labels), "float32")
    columns = ops.cast(ops.equal(ops.argmax(similarity, axis=0), labels), "float32")
    return (ops.mean(rows) + ops.mean(columns)) / 2.0


@keras.saving.register_keras_serializable(package="mmkeras")
class DualEncoder(keras.Model):
    """Two towers trained with symmetric InfoNCE and a learnable temperature.

    Called on a dict holding (at least) the pair's preprocessed inputs, as
    `make_dataset(..., with_targets=False)` yields them, it returns
    `{a: [batch, dim], b: [batch, dim]}` L2-normalised embeddings. `fit`
    needs no targets: the rows of each batch are the positive pairs.

    The temperature is kept as `log_logit_scale` (log of 1 / temperature),
    trainable unless `learn_temperature=False`; the scale used is clamped to
    `[1, 100]` as CLIP does (temperature in [0.01, 1]).

    Args:
        towers: {input name: keras.Model} for the two inputs, in pair order;
            each maps that input's preprocessed tensor to `[batch, dim]`.
        temperature: the initial temperature.
        learn_temperature: train the temperature with the rest.

    Example:

    >>> pairs_spec = mmkeras.load_spec(mmkeras.testing.retrieval_spec_dict(os.path.join(data_dir, "manifest.csv")))
    >>> pairs_pre = mmkeras.Preprocessor(pairs_spec).adapt(splits["train"])
    >>> towers = {n: build_tower(pairs_spec, pairs_pre, n) for n in ("picture", "caption")}
    >>> pairs = DualEncoder(towers)
    >>> pairs.compile(optimizer="adam", jit_compile=True)
    >>> ds = mmkeras.make_dataset(pairs_spec, splits["train"], pairs_pre, training=True, with_targets=False)
    >>> sorted(pairs.fit(ds, epochs=1, verbose=0).history)
    ['loss', 'pair_accuracy']
    """

    def __init__(self, towers, temperature=0.07, learn_temperature=True, **kwargs):
        super().__init__(**kwargs)
        if len(towers) != 2:
            raise ValueError(f"DualEncoder needs exactly 2 towers, got {list(towers)}.")
        if not 1.0 / MAX_LOGIT_SCALE <= temperature <= 1.0 / MIN_LOGIT_SCALE:
            raise ValueError(f"temperature must be in [0.01, 1], got {temperature!r}.")
        self.pair = list(towers)
        self.towers = dict(towers)
        self.temperature = float(temperature)
        self.learn_temperature = bool(learn_temperature)
        self.log_logit_scale = self.add_weight(
            name="log_logit_scale", shape=(),
            initializer=keras.initializers.Constant(math.log(1.0 / self.temperature)),
            trainable=self.learn_temperature, dtype="float32")
        self.pair_accuracy = keras.metrics.Mean(name="pair_accuracy")
        self.built = True  # both towers are built functional models; nothing waits for a first call

    def tower(self, name):
        """The tower (a functional model) of one input of the pair."""
        return self.towers[name]

    def logit_scale(self):
        """The clamped 1 / temperature in use."""
        return ops.exp(ops.clip(self.log_logit_scale, math.log(MIN_LOGIT_SCALE), math.log(MAX_LOGIT_SCALE)))

    def call(self, inputs, training=False):
        return {name: ops.cast(self.towers[name](inputs[name], training=training), "float32")
                for name in self.pair}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        a, b = (y_pred[name] for name in self.pair)
        loss = info_nce_loss(a, b, self.logit_scale())
        for extra in self.losses:  # encoder regularisers, if any
            loss = loss + ops.cast(extra, "float32")
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        a, b = (y_pred[name] for name in self.pair)
        self.pair_accuracy.update_state(in_batch_accuracy(a, b))
        return self.get_metrics_result()

    def get_config(self):
        return {**super().get_config(),
                "towers": {n: keras.saving.serialize_keras_object(t) for n, t in self.towers.items()},
                "temperature": self.temperature, "learn_temperature": self.learn_temperature}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["towers"] = {n: keras.saving.deserialize_keras_object(t) for n, t in config["towers"].items()}
        return cls(**config)


class TemperatureLog(keras.callbacks.Callback):
    """Adds the current temperature of a `DualEncoder` to each epoch's logs (and so to history.csv).

    Example:

    >>> logs = {}
    >>> callback = TemperatureLog()
    >>> callback.set_model(DualEncoder({"a": keras.Sequential([keras.Input((2,))]),
    ...                                 "b": keras.Sequential([keras.Input((2,))])}, temperature=0.5))
    >>> callback.on_epoch_end(0, logs)
    >>> round(logs["temperature"], 3)
    0.5
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["temperature"] = float(1.0 / keras.ops.convert_to_numpy(self.model.logit_scale()))


def build_tower(spec, preprocessor, name):
    """One input's tower: its encoder, a Dense projection to `task.embedding_dim`, L2 normalisation.

    Example:

    >>> pairs_spec = mmkeras.load_spec(mmkeras.testing.retrieval_spec_dict(os.path.join(data_dir, "manifest.csv")))
    >>> pairs_pre = mmkeras.Preprocessor(pairs_spec).adapt(splits["train"])
    >>> tower = build_tower(pairs_spec, pairs_pre, "picture")
    >>> tower.output_shape
    (None, 8)
    """
    feature = preprocessor.features[name]
    inputs = keras.Input(shape=feature.shape, dtype=feature.dtype, name=name)
    encoded = build_encoder(spec.inputs[name], feature)(inputs)
    projected = keras.layers.Dense(spec.task.embedding_dim, dtype="float32", name=f"{name}_projection")(encoded)
    embedding = keras.layers.UnitNormalization(axis=-1, dtype="float32", name=f"{name}_normalize")(projected)
    return keras.Model(inputs, embedding, name=f"{name}_tower")


def build_dual_encoder(spec, preprocessor, *, compile=True):
    """The `DualEncoder` of a retrieval spec (`task: {type: retrieval, pair: [a, b]}`).

    Args:
        spec: a Spec, file or dict with a retrieval `task`.
        preprocessor: an adapted `mmkeras.Preprocessor` of that spec.
        compile: compile with the spec's optimizer and `jit_compile` (checked
            to really be on, `mmkeras.training.compile_model`).

    Example:

    >>> pairs_spec = mmkeras.load_spec(mmkeras.testing.retrieval_spec_dict(os.path.join(data_dir, "manifest.csv")))
    >>> pairs_pre = mmkeras.Preprocessor(pairs_spec).adapt(splits["train"])
    >>> pairs = build_dual_encoder(pairs_spec, pairs_pre)
    >>> pairs.pair, pairs.jit_compile
    (['picture', 'caption'], True)
    """
    spec = load_spec(spec)
    if spec.task is None or spec.task.type != "retrieval":
        raise ValueError(f"{spec.source or spec.name}: task: the spec has no retrieval task "
                         "(task: {type: retrieval, pair: [a, b]})")
    with model_scope(spec, preprocessor):
        towers = {name: build_tower(spec, preprocessor, name) for name in spec.task.pair}
        model = DualEncoder(towers, temperature=spec.task.temperature,
                            learn_temperature=spec.task.learn_temperature, name=spec.model_name)
    if compile:
        compile_model(model, spec)  # the optimizer only: the model computes its own loss
    return model
