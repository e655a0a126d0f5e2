"""`RetrievalTask`: a spec with `task: {type: retrieval, pair: [a, b]}`: a contrastive dual encoder."""

from mmkeras.data import make_dataset
from mmkeras.data.sources import TableSource
from mmkeras.errors import DataError
from mmkeras.reports.text import format_retrieval
from mmkeras.tasks.base import Task
from mmkeras.tasks.retrieval.endpoints import retrieval_endpoints
from mmkeras.tasks.retrieval.evaluation import evaluate_retrieval, paired_rows
from mmkeras.tasks.retrieval.model import TemperatureLog, build_dual_encoder


class RetrievalTask(Task):
    """Training a dual encoder on the rows that have both inputs of the pair; recall@k both ways.

    Example:

    >>> pairs_spec = mmkeras.load_spec(mmkeras.testing.retrieval_spec_dict(os.path.join(data_dir, "manifest.csv")))
    >>> task = RetrievalTask(pairs_spec)
    >>> task.main_metric(), task.unit, task.supports_shards
    (('retrieval', 'picture_to_caption_recall@1'), 'pairs', False)
    >>> source, notes = task.prepare(mmkeras.data.sources.source_for(pairs_spec))  # every demo row has both
    >>> source.split_names, notes
    (['train', 'validation', 'test'], [])
    """

    name = "retrieval"
    unit = "pairs"
    supports_shards = False
    supports_importance = False

    def prepare(self, source):
        """The source with only the rows that have both inputs of the pair, and a line per split that lost rows.

        A DataError when the source is not a table (shards) or its train
        split has fewer than 2 pairs (contrastive training needs negatives).
        """
        spec = self.spec
        if source.table("train") is None:
            raise DataError(f"{spec.source or spec.name}: data.path {spec.data.path} is a folder (shards?); "
                            "task: retrieval trains from a table (CSV, TSV, Parquet, JSONL)")
        splits, notes = {}, []
        for split in source.split_names:
            splits[split], dropped = paired_rows(spec, source.table(split))
            if dropped:
                notes.append(f"{split}: {dropped} rows without both {list(spec.task.pair)} left out")
        if len(splits["train"]) < 2:
            raise DataError(f"{spec.source or spec.name}: the train split has {len(splits['train'])} rows with "
                            f"both {list(spec.task.pair)}; contrastive training needs at least 2")
        kept = {k: v for k, v in splits.items() if k == "train" or len(v) > 0}
        return TableSource(spec, kept), notes

    def training_line(self, model, epochs, xla):
        """`training a dual encoder <a> <-> <b>, <n> parameters, <epochs> epochs (<xla>)`."""
        a, b = self.spec.task.pair
        return f"training a dual encoder {a} <-> {b}, {model.count_params():,} parameters, {epochs} epochs ({xla})"

    def build_model(self, spec, preprocessor):
        """The compiled `DualEncoder` (`build_dual_encoder`)."""
        return build_dual_encoder(spec, preprocessor)

    def dataset(self, source, split, preprocessor, *, training=False):
        """The split's rows with both inputs of the pair, inputs only (the rows of a batch are the pairs)."""
        df = source.table(split)
        if df is None:
            raise DataError(f"{self.spec.source or self.spec.name}: task: retrieval trains from a table "
                            "(CSV, TSV, Parquet, JSONL), not from shards")
        df, _ = paired_rows(self.spec, df)
        return make_dataset(self.spec, df, preprocessor, training=training, with_targets=False,
                            root=source.root, table=f"{split} split")

    def evaluate(self, model, preprocessor, source, split):
        """`{"retrieval": metrics}` of one split of a table source."""
        return self.evaluate_table(model, preprocessor, source.table(split), root=source.root,
                                   table=f"{split} split")

    def evaluate_table(self, model, preprocessor, df, *, root=None, table=""):
        """`{"retrieval": metrics}` of a table (`evaluate_retrieval`)."""
        return evaluate_retrieval(model, preprocessor, df, root=root, table=table)

    def endpoints(self, model, preprocessor):
        """One `embed_<input>` signature per tower (`retrieval_endpoints`)."""
        return retrieval_endpoints(model, preprocessor)

    def format_metrics(self, metrics):
        """Recall@k against chance and the median rank, per split and direction."""
        return format_retrieval(metrics)

    def main_metric(self):
        """("retrieval", "<a>_to_<b>_recall@1")."""
        a, b = self.spec.task.pair
        return "retrieval", f"{a}_to_{b}_recall@1"

    def callbacks(self):
        """[TemperatureLog()]: the temperature in each epoch's logs."""
        return [TemperatureLog()]
