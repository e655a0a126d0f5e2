"""Everything tf.data: per-modality features, the preprocessor, the pipeline stages and the sources.

`make_dataset`, `load_splits`, `read_table` and `split_table` come from the
table source (`mmkeras.data.sources.table`); shard folders and the `Source`
interface are in `mmkeras.data.sources`.
"""

from mmkeras.data.preprocessor import Preprocessor
from mmkeras.data.presence import PRESENCE
from mmkeras.data.sources.table import load_splits, make_dataset, read_table, split_table
from mmkeras.errors import DataError

__all__ = ["DataError", "PRESENCE", "Preprocessor", "load_splits", "make_dataset", "read_table", "split_table"]
