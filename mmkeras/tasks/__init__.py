"""Tasks: what a model predicts and how it is built, trained, evaluated and served.

`mmkeras.tasks.registry.task_for(spec)` gives a spec's `Task`
(`mmkeras.tasks.base`): `OutputsTask` (`outputs/`: one head per output,
classification, binary, multilabel, regression and any registered with
`register_head`) or `RetrievalTask` (`retrieval/`: the contrastive dual
encoder).

This package's `__init__` (and `outputs/__init__`) import nothing heavy on
purpose: the spec loader, the fusions and the target encoders read the
output-type registry `mmkeras.tasks.outputs.HEADS`, while the tasks
themselves build on specs, data and builders; importing the tasks here
would close that loop.
"""
