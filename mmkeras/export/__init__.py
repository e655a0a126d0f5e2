"""Raw-input SavedModels: atomic writing, the classifier export, serving checks."""

from mmkeras.export.saved_model import METADATA_FILE, export_saved_model, serve_in_subprocess, write_archive
