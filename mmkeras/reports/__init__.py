"""Reports of runs: text tables today (`text.py`), plots next."""
