"""The `multilabel` output type: zero or more labels per row, one sigmoid unit per label.

Targets are multi-hot (`MultiLabelTarget`, labels joined by the output's
`separator` in the column); the loss keeps labels apart so balanced class
weights apply per label; a label is predicted at or above its threshold.
The export serves `<o>_probabilities` `[batch, labels]` and `<o>_labels`
(the predicted labels, joined); `mmkeras predict` writes `<o>_labels` and
`<o>_prob_<label>` (`class_columns`).
"""

import keras
import tensorflow as tf

from mmkeras.tasks.outputs.classification import class_columns
from mmkeras.tasks.outputs.heads import Head, register_head
from mmkeras.tasks.outputs.scoring import multilabel_metrics


@keras.saving.register_keras_serializable(package="mmkeras")
class MultiLabelCrossentropy(keras.losses.Loss):
    """Binary crossentropy kept per label: `[batch, labels]` losses, averaged over every entry.

    Without weights this equals `binary_crossentropy`; with per-entry sample
    weights `[batch, labels]` (from `class_weight: balanced`) each label's
    positives and negatives are weighted apart, which Keras' built-in loss
    (averaged over labels before weighting) cannot do.

    Example:

    >>> loss = MultiLabelCrossentropy()
    >>> float(loss(np.float32([[1, 0]]), np.float32([[0.9, 0.2]])))  # (-log .9 - log .8) / 2
    0.164252...
    """

    def __init__(self, name="multilabel_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_pred = keras.ops.convert_to_tensor(y_pred)
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        return keras.ops.binary_crossentropy(y_true, y_pred)


def label_outputs(name, spec, target, probabilities):
    """`<o>_probabilities` `[batch, labels]` and `<o>_labels`: the labels at or above their threshold, joined.

    Example:

    >>> t = mmkeras.data.targets.MultiLabelTarget(mmkeras.specs.OutputSpec(name="tags", type="multilabel",
    ...                                                                     column="tags")).adapt(["a,b"])
    >>> label_outputs("tags", t.spec, t, tf.constant([[0.9, 0.2]]))["tags_labels"].numpy()
    array([b'a'], dtype=object)
    """
    labels = tf.constant(target.classes, tf.string)
    chosen = probabilities >= tf.constant(target.thresholds, tf.float32)
    picked = tf.ragged.boolean_mask(tf.broadcast_to(labels, tf.shape(probabilities)), chosen)
    joined = tf.strings.reduce_join(picked, axis=-1, separator=spec.separator)
    return {f"{name}_probabilities": probabilities, f"{name}_labels": joined}


MULTILABEL = register_head("multilabel")(Head(
    units=lambda target: target.num_classes,
    activation="sigmoid",
    loss=lambda spec: MultiLabelCrossentropy(),
    metrics=lambda spec: [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
    target="multi_hot",
    evaluate=lambda spec, target, y_true, y: multilabel_metrics(y_true, y, target.classes, target.thresholds),
    serve=label_outputs,
    columns=lambda name, info, outputs: class_columns(name, info, outputs, chosen="labels"),
    metadata=lambda spec, target: {"separator": spec.separator, "thresholds": target.thresholds},
    main_metric="micro_f1",
    options=("separator", "threshold"),
    balanced=True,
))
