"""The `binary` output type: one sigmoid unit, the probability of the positive class.

Targets are 0/1 (`BinaryTarget`: the positive class is the spec's
`positive`, or the second of the two sorted values). Evaluation and the
export treat it as a two-class output (`[1 - p, p]`), so it serves and
predicts the same columns as `classification`.
"""

import keras
import numpy as np
import tensorflow as tf

from mmkeras.tasks.outputs.classification import class_columns, class_outputs
from mmkeras.tasks.outputs.heads import Head, register_head
from mmkeras.tasks.outputs.scoring import classification_metrics


def two_columns(p):
    """`[n, 1]` positive-class probabilities -> `[n, 2]` (negative, positive), numpy or tensors.

    Example:

    >>> two_columns(np.float32([[0.25]])).tolist()
    [[0.75, 0.25]]
    """
    if isinstance(p, np.ndarray):
        p = p.reshape(-1, 1)
        return np.concatenate([1 - p, p], axis=1)
    return tf.concat([1.0 - p, p], axis=-1)


BINARY = register_head("binary")(Head(
    activation="sigmoid",
    loss=lambda spec: "binary_crossentropy",
    metrics=lambda spec: [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
    target="binary",
    evaluate=lambda spec, target, y_true, y: classification_metrics(y_true, two_columns(y), target.classes),
    serve=lambda name, spec, target, y: class_outputs(name, two_columns(y), target.classes),
    columns=class_columns,
    main_metric="accuracy",
    stratify=True,
    options=("positive",),
    balanced=True,
))
