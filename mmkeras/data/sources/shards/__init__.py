"""TFRecord shard folders written by `mmkeras convert`: the folder format (`format.py`), writing (`write.py`),
reading a split (`read.py`) and the `ShardSource` runs train from (`source.py`)."""
