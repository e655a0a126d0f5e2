"""Everything tf.data: tables, per-modality ops, the preprocessor and the pipeline."""

from mmkeras.errors import DataError
from mmkeras.data.pipeline import make_dataset
from mmkeras.data.preprocessor import Preprocessor
from mmkeras.data.sources.table import load_splits, read_table, split_table
from mmkeras.data.presence import PRESENCE, presence_key
