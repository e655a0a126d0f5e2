"""The embedded demo: synthetic multimodal data (`data.py`) and the `mmkeras demo` job (`run.py`)."""
