"""Output types: a `Head` per output `type`, found by name in `HEADS`.

Each built-in type is one module (`classification`, `binary`,
`multilabel`, `regression`) that registers its head; a new type is one
module calling `register_head`. `metrics` evaluates a model's outputs,
`task` is the `OutputsTask`. This `__init__` imports only the registry and
the built-in types (nothing that reads specs or data), so the spec loader
can check output types against `HEADS`.
"""

from mmkeras.tasks.outputs.heads import HEADS, Head, prediction_columns, register_head
from mmkeras.tasks.outputs import binary, classification, multilabel, regression  # noqa: F401  (the built-ins)

__all__ = ["HEADS", "Head", "register_head", "prediction_columns"]
