"""Raw-input SavedModels: `archive` (atomic SavedModel writing), `saved_model` (`export_saved_model`, one
export over a task's serving endpoints), `serving` (serving an export in a Python without mmkeras).

Only the two modules below tasks are imported here: `saved_model` builds on the tasks, whose endpoints
are written with `archive`.
"""

from mmkeras.export.archive import METADATA_FILE, write_archive, write_saved_model
from mmkeras.export.serving import serve_in_subprocess

__all__ = ["METADATA_FILE", "write_archive", "write_saved_model", "serve_in_subprocess"]
