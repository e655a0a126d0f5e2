"""Cross-modal retrieval: a contrastive dual encoder over two inputs (CLIP-style).

A spec with `task: {type: retrieval, pair: [a, b]}` (instead of `outputs`)
trains one tower per input (its encoder, a projection, L2 normalisation)
with symmetric InfoNCE and a learnable temperature (`model`); evaluation
reports recall@1/5/10 both ways and the median rank (`evaluation`,
`metrics`); the export has one signature `embed_<input>` per tower
(`endpoints`), and `top_k` searches an index of embeddings (`index`).
`task.RetrievalTask` is what runs use (`mmkeras.runs.train_run` trains a
retrieval spec like any other).

Example:

>>> indices, scores = top_k(np.eye(3, dtype="float32")[:1], np.eye(3, dtype="float32"), k=2)
>>> indices.tolist()
[[0, 1]]
"""

from mmkeras.reports.text import format_retrieval
from mmkeras.tasks.retrieval.endpoints import export_retrieval_model
from mmkeras.tasks.retrieval.evaluation import embed_table, evaluate_retrieval, paired_rows
from mmkeras.tasks.retrieval.index import top_k
from mmkeras.tasks.retrieval.metrics import chance_recall, ranks, retrieval_metrics
from mmkeras.tasks.retrieval.model import DualEncoder, build_dual_encoder, build_tower, in_batch_accuracy, info_nce_loss

__all__ = [
    "DualEncoder", "build_dual_encoder", "build_tower", "info_nce_loss", "in_batch_accuracy",
    "retrieval_metrics", "ranks", "chance_recall", "format_retrieval",
    "export_retrieval_model", "top_k",
    "evaluate_retrieval", "embed_table", "paired_rows",
]
