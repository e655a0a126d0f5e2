"""The `regression` output type: one linear unit trained on standardised targets.

Targets are `(y - mean) / std` of the training split (`RegressionTarget`);
predictions are mapped back to the column's units before evaluation (MAE,
RMSE, R²) and in the export, which serves `<o>` `[batch]`.
"""

import keras

from mmkeras.tasks.outputs.heads import Head, register_head
from mmkeras.tasks.outputs.scoring import regression_metrics

REGRESSION = register_head("regression")(Head(
    loss=lambda spec: "mse",
    metrics=lambda spec: [keras.metrics.MeanAbsoluteError(name="mae")],
    target="standardized",
    evaluate=lambda spec, target, y_true, y: regression_metrics(y_true, y),
    main_metric="r2",
))
