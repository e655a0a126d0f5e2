"""Output types: `Head` (what an output predicts and how it is trained, evaluated and served) and its registry.

An output's `type` names a registered `Head`. A head says how its final
layer is built, its loss and Keras metrics, and optionally how its column
is encoded as a target (`target`, a kind of `mmkeras.data.targets`), how it
is evaluated, what the export serves, which columns `mmkeras predict`
writes and which metric sums it up. What a head leaves out falls back to
numeric targets, its own Keras metrics and one `<o>` column. The built-in
types (`classification`, `binary`, `multilabel`, `regression`) are defined
the same way, one module each.

This module imports no other mmkeras module but the registry: the spec
loader, the target encoders and late fusion read it.
"""

import dataclasses
from typing import Callable, Optional

import keras
import numpy as np
import tensorflow as tf

from mmkeras.registry import Registry


@dataclasses.dataclass(frozen=True, kw_only=True)
class Head:
    """How an output type is predicted, trained, evaluated and served.

    Args:
        build: `build(x, spec, target)` -> the output tensor, named after the
            output (`spec.name`), float32 even under mixed precision. Default:
            `Dense(units(target), activation)`.
        loss: `loss(spec)` -> what `compile` gets for the output.
        metrics: `metrics(spec)` -> list of Keras metrics (objects, names or functions).
        units: `units(target)` -> the width of the default Dense layer (default 1).
        activation: the default Dense layer's activation (also what late
            fusion applies after combining); None is linear.
        target: the target kind encoding the output's column
            (`mmkeras.data.targets.TARGETS`): "class", "binary", "multi_hot",
            "standardized" or "numeric" (default: the column's numbers as they are).
        evaluate: `evaluate(spec, target, y_true, y_pred)` -> {metric: value}
            with `y_true` as `target.truth` gives it and `y_pred` the
            decoded predictions. Default: the head's Keras `metrics` over
            the predictions, plus `count`.
        serve: `serve(name, spec, target, y)` -> {serving output: tensor} of
            the decoded predictions `y`. Default: `{name: y}` (`[batch]` for
            one unit).
        columns: `columns(name, info, outputs)` -> {column: values} that
            `mmkeras predict` writes, from the export's metadata `info` of the
            output and its served arrays `outputs`. Default: `<o>` (or
            `<o>_<i>` per unit).
        metadata: `metadata(spec, target)` -> extra JSON-ready entries of the
            output in the export's `mmkeras.json`.
        main_metric: the metric that sums the output up. Default: the name
            of its first Keras metric.
        stratify: split tables and cv folds stratified by this output's classes.
        options: the type-specific `OutputSpec` options this type accepts
            (binary: `positive`; multilabel: `separator`, `threshold`).
        balanced: whether `class_weight: balanced` applies (class targets).

    Example:

    >>> poisson = Head(
    ...     build=lambda x, spec, target: keras.layers.Dense(1, activation="exponential", name=spec.name)(x),
    ...     loss=lambda spec: "poisson", metrics=lambda spec: ["mae"])
    >>> poisson.target, poisson.headline(None)
    ('numeric', 'mae')
    """

    loss: Callable
    metrics: Callable
    build: Optional[Callable] = None
    units: Optional[Callable] = None
    activation: Optional[str] = None
    target: str = "numeric"
    evaluate: Optional[Callable] = None
    serve: Optional[Callable] = None
    columns: Optional[Callable] = None
    metadata: Optional[Callable] = None
    main_metric: Optional[str] = None
    stratify: bool = False
    options: tuple = ()
    balanced: bool = False

    def output(self, x, spec, target):
        """The output tensor of `spec` on the fused vector `x` (`build`, or the default Dense layer).

        Example:

        >>> y = HEADS.get("binary").output(keras.Input((4,)), mmkeras.specs.OutputSpec(name="y", type="binary", column="y"),
        ...                                None)
        >>> y.shape, y.dtype
        ((None, 1), 'float32')
        """
        if self.build is not None:
            return self.build(x, spec, target)
        units, activation = self.dense_form(target)
        return keras.layers.Dense(units, activation=activation, dtype="float32", name=spec.name)(x)

    def dense_form(self, target):
        """(units, activation) of the default Dense layer, or None when the head builds its own layer.

        Late fusion uses it to give each input its own logits and to apply
        the activation after combining them.

        Example:

        >>> HEADS.get("regression").dense_form(None)
        (1, None)
        """
        if self.build is not None:
            return None
        return (self.units(target) if self.units is not None else 1), self.activation

    def evaluation(self, spec, target, y_true, predictions):
        """{metric: value} of the model's raw `predictions` against `y_true` (`target.truth`).

        Example:

        >>> counts = mmkeras.specs.OutputSpec(name="visits", type="counts", column="visits")
        >>> counts_head = Head(loss=lambda spec: "poisson", metrics=lambda spec: ["mae"])
        >>> target = mmkeras.data.targets.NumericTarget(counts)
        >>> counts_head.evaluation(counts, target, [1.0, 3.0], np.float32([[1.0], [2.0]]))
        {'mae': 0.5, 'count': 2}
        """
        y_pred = target.decode_predictions(np.asarray(predictions))
        if self.evaluate is not None:
            return self.evaluate(spec, target, y_true, y_pred)
        return keras_metrics(self.metrics(spec), y_true, y_pred)

    def serving_outputs(self, name, spec, target, predictions):
        """{serving output: tensor} of the model's raw `predictions` of output `name`, inside the export.

        Example:

        >>> counts = mmkeras.specs.OutputSpec(name="visits", type="counts", column="visits")
        >>> counts_head = Head(loss=lambda spec: "poisson", metrics=lambda spec: ["mae"])
        >>> target = mmkeras.data.targets.NumericTarget(counts)
        >>> counts_head.serving_outputs("visits", counts, target, tf.ones([2, 1]))["visits"].shape
        TensorShape([2])
        """
        y = target.decode_predictions(tf.cast(predictions, tf.float32))
        if self.serve is not None:
            return self.serve(name, spec, target, y)
        return {name: tf.reshape(y, [-1]) if y.shape[-1] == 1 else y}

    def prediction_columns(self, name, info, outputs):
        """{column: values} for `mmkeras predict` from the served arrays `outputs` ({serving output: array}).

        Example:

        >>> HEADS.get("regression").prediction_columns("y", {}, {"y": np.float32([1.5, 2.0])})
        {'y': array([1.5, 2. ], dtype=float32)}
        """
        if self.columns is not None:
            return self.columns(name, info, outputs)
        values = np.asarray(outputs[name])
        if values.ndim == 1:
            return {name: values}
        return {f"{name}_{i}": values[:, i] for i in range(values.shape[-1])}

    def export_metadata(self, spec, target):
        """The output's entry in the export's `mmkeras.json`: type, column, classes and the head's extras.

        Example:

        >>> entry = HEADS.get("classification").export_metadata(spec.outputs["label"], pre.targets["label"])
        >>> entry["type"], entry["column"], len(entry["classes"])
        ('classification', 'label', 8)
        """
        entry = {"type": spec.type, "column": spec.column, "classes": list(target.classes)}
        if self.metadata is not None:
            entry.update(self.metadata(spec, target))
        return entry

    def headline(self, spec):
        """The name of the metric that sums the output up (`main_metric`, or the first Keras metric's name).

        Example:

        >>> HEADS.get("multilabel").headline(None)
        'micro_f1'
        """
        if self.main_metric is not None:
            return self.main_metric
        return metric_name(self.metrics(spec)[0])


HEADS = Registry("head")


def register_head(name, *, override=False):
    """Registers a `Head` under an output `type` name.

    Only `build`, `loss` and `metrics` are needed: such a head gets the
    column's numbers as targets, is evaluated with its own Keras metrics
    and serves one `<o>` column.

    Example:

    >>> poisson = mmkeras.tasks.outputs.Head(
    ...     build=lambda x, spec, target: keras.layers.Dense(1, activation="exponential", name=spec.name)(x),
    ...     loss=lambda spec: "poisson", metrics=lambda spec: ["mae"])
    >>> with HEADS.temporarily("poisson", poisson):  # only for this example: undone at the end of the block
    ...     registered = mmkeras.register_head("poisson", override=True)(poisson)
    ...     spec_type = mmkeras.load_spec({"spec_version": 1, "name": "counts",
    ...         "inputs": {"x": {"type": "numeric", "column": "x"}},
    ...         "outputs": {"visits": {"type": "poisson", "column": "visits"}}}).outputs["visits"].type
    >>> registered is poisson, spec_type, "poisson" in HEADS
    (True, 'poisson', False)
    """
    return HEADS.register(name, override=override)


def metric_name(metric):
    """The name Keras logs a metric under: a metric object's `name`, a string itself, a function's `__name__`.

    Example:

    >>> metric_name("mae"), metric_name(keras.metrics.AUC(name="auc"))
    ('mae', 'auc')
    """
    if isinstance(metric, str):
        return metric
    return getattr(metric, "name", None) or metric.__name__


def keras_metric(metric, y_true, y_pred):
    """A stateful Keras metric named as `compile(metrics=...)` names it (object, name or function).

    As in Keras, a name keeps its spelling ("mae" logs as `mae`) and
    "accuracy" becomes binary, sparse categorical or categorical accuracy
    by the shapes of the targets and predictions.

    Example:

    >>> keras_metric("mae", np.zeros([2, 1]), np.zeros([2, 1])).name
    'mae'
    >>> type(keras_metric("accuracy", np.zeros([2]), np.zeros([2, 3]))).__name__
    'SparseCategoricalAccuracy'
    """
    if isinstance(metric, str) and metric.lower() in ("accuracy", "acc"):
        if y_pred.shape[-1] == 1:
            found = keras.metrics.BinaryAccuracy()
        elif y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
            found = keras.metrics.SparseCategoricalAccuracy()
        else:
            found = keras.metrics.CategoricalAccuracy()
    else:
        found = keras.metrics.get(metric)
    if not isinstance(found, keras.metrics.Metric):
        found = keras.metrics.MeanMetricWrapper(found)
    found.name = metric_name(metric) if isinstance(metric, str) else metric_name(found)
    return found


def keras_metrics(metrics, y_true, y_pred):
    """{name: value} of Keras metrics over whole arrays, plus `count` (how a head without `evaluate` is scored).

    `y_true` is reshaped to the predictions' shape when it has as many values.

    Example:

    >>> keras_metrics(["mae"], [1.0, 3.0], np.float32([[1.0], [2.0]]))
    {'mae': 0.5, 'count': 2}
    """
    y_pred = np.asarray(y_pred, dtype=np.float32)
    y_true = np.asarray(y_true, dtype=np.float32)
    if y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    result = {}
    for metric in metrics:
        metric = keras_metric(metric, y_true, y_pred)
        metric.reset_state()
        metric.update_state(y_true, y_pred)
        result[metric.name] = float(keras.ops.convert_to_numpy(metric.result()))
    result["count"] = int(len(y_pred))
    return result


def prediction_columns(name, info, results):
    """{column: values} of one output for `mmkeras predict`, from the served batches.

    The output's type (`info["type"]` in the export's metadata) names its
    head; a type not registered in this process gets the default columns.

    Args:
        name: the output's name.
        info: its entry in the export's `mmkeras.json` (type, column, classes...).
        results: the served batches, each {serving output: numpy array}.

    Example:

    >>> prediction_columns("y", {"type": "regression"}, [{"y": np.float32([1.0])}, {"y": np.float32([2.0])}])
    {'y': array([1., 2.], dtype=float32)}
    """
    outputs = {key: np.concatenate([r[key] for r in results]) for key in results[0]} if results else {}
    head = HEADS.get(info["type"]) if info.get("type") in HEADS else DEFAULT_HEAD
    return head.prediction_columns(name, info, outputs)


DEFAULT_HEAD = Head(loss=lambda spec: "mse", metrics=lambda spec: ["mae"])
