"""TFRecord shard folders written by `mmkeras convert` (`write.py`) and read for training (`read.py`)."""
