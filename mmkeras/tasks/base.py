"""`Task`: what a run does with a spec's model, whatever the model predicts.

A task builds and compiles the model, turns a `Source` split into what
`fit` consumes, evaluates a split or a table, exports the serving
endpoints, prints its metrics and names the metric that sums a run up.
`mmkeras.tasks.registry.task_for(spec)` picks the task of a spec.
"""

from mmkeras.export.archive import write_saved_model


class Task:
    """The operations a run needs from a task; subclasses implement them.

    Attributes:
        spec: the Spec the task is for.
        name: "outputs" or "retrieval" (the registry name).
        supports_shards: whether it trains from shard folders (`mmkeras convert`).
        supports_importance: whether modality importance applies.

    Example:

    >>> task = mmkeras.tasks.registry.task_for(spec)
    >>> isinstance(task, Task), task.name
    (True, 'outputs')
    """

    name = ""
    unit = "rows"
    supports_shards = False
    supports_importance = False

    def __init__(self, spec):
        self.spec = spec

    def prepare(self, source):
        """(the source to train on, lines to print): a task may keep only the examples it can use.

        Raises a DataError when the source cannot train this task. The
        default keeps the source as it is.

        Example:

        >>> source = mmkeras.data.sources.source_for(spec)
        >>> mmkeras.tasks.registry.task_for(spec).prepare(source) == (source, [])
        True
        """
        return source, []

    def training_line(self, model, epochs, xla):
        """The line a run prints before fitting: what is trained, its size, epochs and the XLA state.

        Example:

        >>> mmkeras.tasks.registry.task_for(spec).training_line(model, 3, "XLA on")  # doctest: +ELLIPSIS
        'training ... parameters for 3 epochs (XLA on)'
        """
        return f"training {model.count_params():,} parameters for {epochs} epochs ({xla})"

    def build_model(self, spec, preprocessor):
        """The model of `spec`, built and compiled (XLA checked).

        Example:

        >>> mmkeras.tasks.registry.task_for(spec).build_model(spec, pre).jit_compile
        True
        """
        raise NotImplementedError

    def dataset(self, source, split, preprocessor, *, training=False):
        """The `tf.data.Dataset` of one split of `source` that `fit` consumes.

        Example:

        >>> source = mmkeras.data.sources.source_for(spec)
        >>> ds = mmkeras.tasks.registry.task_for(spec).dataset(source, "validation", pre)
        >>> isinstance(ds, tf.data.Dataset)
        True
        """
        raise NotImplementedError

    def evaluate(self, model, preprocessor, source, split):
        """Metrics of `model` on one split of `source` (`{output: {metric: value}}` for outputs).

        Example:

        >>> source = mmkeras.data.sources.source_for(spec)
        >>> metrics = mmkeras.tasks.registry.task_for(spec).evaluate(model, pre, source, "validation")
        >>> metrics["label"]["count"] == len(splits["validation"])
        True
        """
        raise NotImplementedError

    def evaluate_table(self, model, preprocessor, df, *, root=None, table=""):
        """Metrics of `model` on a table with the spec's columns (the split's rows, or any other table).

        Example:

        >>> metrics = mmkeras.tasks.registry.task_for(spec).evaluate_table(model, pre, splits["test"].head(8))
        >>> metrics["label"]["count"]
        8
        """
        raise NotImplementedError

    def endpoints(self, model, preprocessor):
        """(objects to track, {signature name: tf.function}, metadata): what the export serves.

        Example:

        >>> tracked, endpoints, metadata = mmkeras.tasks.registry.task_for(spec).endpoints(model, pre)
        >>> sorted(endpoints), sorted(metadata["outputs"])
        (['serving_default'], ['label'])
        """
        raise NotImplementedError

    def export(self, model, preprocessor, path, *, overwrite=False):
        """Writes the SavedModel of the task's `endpoints` atomically; returns its absolute path.

        Example:

        >>> path = mmkeras.tasks.registry.task_for(spec).export(model, pre, os.path.join(tmp_dir, "task_export"))
        >>> sorted(tf.saved_model.load(path).signatures)
        ['serving_default']
        """
        tracked, endpoints, metadata = self.endpoints(model, preprocessor)
        return write_saved_model(path, model, tracked, endpoints, metadata, overwrite=overwrite)

    def format_metrics(self, metrics):
        """Lines to print for `{split: metrics}` (as `metrics.json` holds them).

        Example:

        >>> mmkeras.tasks.registry.task_for(spec).format_metrics({"test": {"label": {"accuracy": 0.25}}})
        ['  test       label        accuracy=0.2500']
        """
        raise NotImplementedError

    def main_metric(self):
        """(group, metric): the metric that sums a run up (group = an output name, or "retrieval").

        Example:

        >>> mmkeras.tasks.registry.task_for(spec).main_metric()
        ('label', 'accuracy')
        """
        raise NotImplementedError

    def callbacks(self):
        """Extra Keras callbacks for `fit` (none by default).

        Example:

        >>> mmkeras.tasks.registry.task_for(spec).callbacks()
        []
        """
        return []
