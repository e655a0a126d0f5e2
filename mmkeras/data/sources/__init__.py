"""Where examples come from: tables of rows and files (`table.py`), TFRecord shard folders (`shards/`)."""
