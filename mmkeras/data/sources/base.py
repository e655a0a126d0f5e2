"""`Source`: where a run's examples come from, whatever stores them (a table of rows and files, TFRecord shards).

A source knows its splits and their sizes, adapts or loads the
preprocessor, yields each split as the `tf.data.Dataset` a model fits on
(`mmkeras.data.pipeline.stages` does the decoding), and explains a pipeline
error by naming the row, column and file when it can. Runs
(`mmkeras.runs.lifecycle`) and tasks (`mmkeras.tasks`) work on any source.
"""

from mmkeras.data.checks import explain_op_error
from mmkeras.errors import DataError

SPLITS = ("train", "validation", "test")


class Source:
    """The examples of a spec, split into train / validation / test.

    Subclasses set `spec` and `split_names` and implement `sizes`,
    `preprocessor` and `dataset`; `table`, `root` and `explain` have
    defaults for sources without rows (None, None, the message only).

    Attributes:
        spec: the Spec it reads for.
        split_names: the splits present, among "train", "validation",
            "test", in that order.

    Example:

    >>> source = mmkeras.data.sources.source_for(spec)
    >>> isinstance(source, Source), source.split_names[0]
    (True, 'train')
    """

    spec = None
    split_names = ()

    def sizes(self):
        """{split: number of rows or examples} of every present split.

        Example:

        >>> mmkeras.data.sources.source_for(spec).sizes()["test"] == len(splits["test"])
        True
        """
        raise NotImplementedError

    def preprocessor(self):
        """The Preprocessor for this source (adapted on its train split, or loaded).

        Example:

        >>> mmkeras.data.sources.source_for(spec).preprocessor().adapted
        True
        """
        raise NotImplementedError

    def dataset(self, split, preprocessor, *, training=False, with_targets=True, batch_size=None):
        """A split as a batched `tf.data.Dataset` of `(inputs, targets[, sample_weights])` (or inputs).

        Args:
            split: "train", "validation" or "test" (one of `split_names`).
            preprocessor: the Preprocessor from `preprocessor()` (or a run's).
            training: shuffle, augment and drop the last partial batch.
            with_targets: False yields the inputs only.
            batch_size: default `spec.training.batch_size`.

        Example:

        >>> ds = mmkeras.data.sources.source_for(spec).dataset("test", pre, with_targets=False, batch_size=4)
        >>> sorted(next(iter(ds)))
        ['_presence', 'caption', 'colour', 'picture', 'reading', 'sound']
        """
        raise NotImplementedError

    def table(self, split):
        """The raw rows of a split as a DataFrame; None when the source has no rows (shards).

        Example:

        >>> len(mmkeras.data.sources.source_for(spec).table("test")) == len(splits["test"])
        True
        """
        return None

    @property
    def root(self):
        """The folder relative file paths resolve against; None when the source has no files (shards).

        Example:

        >>> mmkeras.data.sources.source_for(spec).root == data_dir
        True
        """
        return None

    @property
    def description(self):
        """What the examples are stored as, for messages ("the shards in DIR", "the TFDS dataset NAME").

        Example:

        >>> mmkeras.data.sources.source_for(spec).description
        'the data at ...manifest.csv'
        """
        return f"the data at {self.spec.data.path}"

    def explain(self, error, preprocessor):
        """A DataError for a `tf.errors.OpError` the pipeline raised, naming row, column and file when it can.

        Args:
            error: the `tf.errors.OpError`.
            preprocessor: the Preprocessor the datasets were built with.

        Returns:
            A `mmkeras.errors.DataError` (to raise).

        Example:

        >>> message = "assertion failed: [row 3, column 'a', file x.png] [bad]"
        >>> error = tf.errors.InvalidArgumentError(None, None, message)
        >>> print(mmkeras.data.sources.source_for(spec).explain(error, pre))
        row 3, column 'a', file x.png: bad
        """
        return explain_op_error(error)

    def check_split(self, split):
        """Raises a DataError unless `split` is one of `split_names`.

        Example:

        >>> mmkeras.data.sources.source_for(spec).check_split("holdout")
        Traceback (most recent call last):
        ...
        mmkeras.errors.DataError: ... has no holdout split; it has train, validation, test
        """
        if split not in self.split_names:
            raise DataError(f"{self.spec.source or 'the spec'} has no {split} split; it has "
                            f"{', '.join(self.split_names)}")
