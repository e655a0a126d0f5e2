"""`OutputsTask`: a spec with `outputs`: inputs -> encoders -> fusion -> one head per output."""

from mmkeras.builders import build_model
from mmkeras.fusion.late import add_aux_targets
from mmkeras.reports.text import format_metrics
from mmkeras.tasks.base import Task
from mmkeras.tasks.outputs.endpoints import serving_endpoints
from mmkeras.tasks.outputs.metrics import evaluate_dataset, evaluate_model, main_metric


class OutputsTask(Task):
    """Predicting the spec's outputs (classification, binary, multilabel, regression, registered heads).

    Example:

    >>> task = OutputsTask(spec)
    >>> task.main_metric(), task.supports_shards, task.supports_importance
    (('label', 'accuracy'), True, True)
    """

    name = "outputs"
    supports_shards = True

    @property
    def supports_importance(self):
        """Modality importance applies whenever the spec has outputs."""
        return bool(self.spec.outputs)

    def build_model(self, spec, preprocessor):
        """`mmkeras.build_model`: the functional model, compiled.

        Example:

        >>> OutputsTask(spec).build_model(spec, pre).jit_compile
        True
        """
        return build_model(spec, preprocessor)

    def dataset(self, source, split, preprocessor, *, training=False):
        """`source.dataset(split)` with late fusion's per-input targets added (when the spec has them).

        Example:

        >>> ds = OutputsTask(spec).dataset(mmkeras.data.sources.source_for(spec), "train", pre)
        >>> sorted(ds.element_spec[1])
        ['label']
        """
        return add_aux_targets(self.spec, source.dataset(split, preprocessor, training=training))

    def evaluate(self, model, preprocessor, source, split):
        """{output: metrics} of one split: from its rows (tables) or from the stored targets (shards).

        Example:

        >>> source = mmkeras.data.sources.source_for(spec)
        >>> sorted(OutputsTask(spec).evaluate(model, pre, source, "test"))
        ['label']
        """
        df = source.table(split)
        if df is None:
            return evaluate_dataset(model, preprocessor, source.dataset(split, preprocessor))
        return evaluate_model(model, preprocessor, df, root=source.root, table=f"{split} split")

    def evaluate_table(self, model, preprocessor, df, *, root=None, table=""):
        """{output: metrics} of a table with the spec's input and output columns.

        Example:

        >>> OutputsTask(spec).evaluate_table(model, pre, splits["test"])["label"]["count"] == len(splits["test"])
        True
        """
        return evaluate_model(model, preprocessor, df, root=root, table=table)

    def endpoints(self, model, preprocessor):
        """`serving_default`: raw inputs -> each output's serving outputs (`mmkeras.export_saved_model`).

        Example:

        >>> list(OutputsTask(spec).endpoints(model, pre)[1])
        ['serving_default']
        """
        return serving_endpoints(model, preprocessor)

    def format_metrics(self, metrics):
        """One line per split and output (`mmkeras.reports.text.format_metrics`).

        Example:

        >>> OutputsTask(spec).format_metrics({"test": {"label": {"accuracy": 0.5}}})
        ['  test       label        accuracy=0.5000']
        """
        return format_metrics(metrics)

    def main_metric(self):
        """(output, metric): the first output's headline metric (see its head's `main_metric`).

        Example:

        >>> OutputsTask(spec).main_metric()
        ('label', 'accuracy')
        """
        return main_metric(self.spec)
