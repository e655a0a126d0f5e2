"""Tasks: what a model predicts and how it is trained, evaluated and served.

`outputs/` holds the per-output heads (classification, binary, multilabel,
regression and any registered with `register_head`); `retrieval/` the
contrastive dual encoder.
"""
