"""Cross-modal retrieval: a contrastive dual encoder over two inputs (CLIP-style).

A spec with `task: {type: retrieval, pair: [a, b]}` (instead of `outputs`)
trains one tower per input (its encoder, a projection, L2 normalisation)
with symmetric InfoNCE and a learnable temperature; evaluation reports
recall@1/5/10 both ways and the median rank; the export has one signature
`embed_<input>` per tower, and `top_k` searches an index of embeddings.

Example:

>>> from mmkeras.tasks.retrieval import train_retrieval_run, top_k
>>> metrics = train_retrieval_run("data_specs/openmoji_retrieval.yaml", "runs/openmoji_retrieval")
"""

from mmkeras.tasks.retrieval.endpoints import export_retrieval_model
from mmkeras.tasks.retrieval.index import top_k
from mmkeras.tasks.retrieval.metrics import chance_recall, format_retrieval, ranks, retrieval_metrics
from mmkeras.tasks.retrieval.model import DualEncoder, build_dual_encoder, build_tower, in_batch_accuracy, info_nce_loss
from mmkeras.tasks.retrieval.runs import embed_table, evaluate_retrieval, paired_rows, train_retrieval_run

__all__ = [
    "DualEncoder", "build_dual_encoder", "build_tower", "info_nce_loss", "in_batch_accuracy",
    "retrieval_metrics", "ranks", "chance_recall", "format_retrieval",
    "export_retrieval_model", "top_k",
    "train_retrieval_run", "evaluate_retrieval", "embed_table", "paired_rows",
]
