"""The `classification` output type: one class per row, softmax over the classes seen in training.

Targets are class indices (`ClassTarget`); the export serves
`<o>_probabilities` `[batch, classes]` and `<o>_label` (the class value as
written in the table); `mmkeras predict` writes `<o>_label` and
`<o>_prob_<class>`; evaluation gives accuracy, F1, per-class scores,
ROC-AUC and the confusion matrix.
"""

import keras
import numpy as np
import tensorflow as tf

from mmkeras.tasks.outputs.heads import Head, register_head
from mmkeras.tasks.outputs.scoring import classification_metrics


def class_outputs(name, probabilities, classes):
    """`<o>_probabilities` and `<o>_label` (the most probable class's value) of a class output, in the export.

    Example:

    >>> out = class_outputs("label", tf.constant([[0.2, 0.8]]), ["cat", "dog"])
    >>> out["label_label"].numpy()
    array([b'dog'], dtype=object)
    """
    labels = tf.constant(classes, tf.string)
    return {f"{name}_probabilities": probabilities, f"{name}_label": tf.gather(labels, tf.argmax(probabilities, -1))}


def class_columns(name, info, outputs, chosen="label"):
    """`<o>_<chosen>` (the predicted class or labels) and `<o>_prob_<class>` columns for `mmkeras predict`.

    Args:
        name: the output's name.
        info: its entry in the export's metadata (gives `classes`).
        outputs: {serving output: array} as the export served them.
        chosen: the serving output holding the predicted values: "label",
            or "labels" for multilabel outputs.

    Example:

    >>> cols = class_columns("label", {"classes": ["cat", "dog"]},
    ...                      {"label_label": np.array([b"dog"]), "label_probabilities": np.float32([[0.2, 0.8]])})
    >>> cols["label_label"], round(float(cols["label_prob_dog"][0]), 2)
    (['dog'], 0.8)
    """
    columns = {f"{name}_{chosen}": [v.decode("utf-8") for v in outputs[f"{name}_{chosen}"]]}
    probabilities = outputs[f"{name}_probabilities"]
    for i, cls in enumerate(info["classes"]):
        columns[f"{name}_prob_{cls}"] = probabilities[:, i]
    return columns


CLASSIFICATION = register_head("classification")(Head(
    units=lambda target: target.num_classes,
    activation="softmax",
    loss=lambda spec: "sparse_categorical_crossentropy",
    metrics=lambda spec: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    target="class",
    evaluate=lambda spec, target, y_true, y: classification_metrics(y_true, y, target.classes),
    serve=lambda name, spec, target, y: class_outputs(name, y, target.classes),
    columns=class_columns,
    main_metric="accuracy",
    stratify=True,
    balanced=True,
))
