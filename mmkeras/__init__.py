"""mmkeras: multimodal deep learning on Keras 3 and TensorFlow.

The path a user walks:

    spec = mmkeras.load_spec("data_specs/demo.yaml")
    splits = mmkeras.load_splits(spec)
    pre = mmkeras.Preprocessor(spec).adapt(splits["train"])
    model = mmkeras.build_model(spec, pre)
    model.fit(mmkeras.make_dataset(spec, splits["train"], pre, training=True), epochs=5)
    mmkeras.export_saved_model(model, pre, "export/")

Importing mmkeras has one intended side effect: `TF_CPP_MIN_LOG_LEVEL`
defaults to "2" (never overriding a value the user set). Every custom layer and model is registered
with `keras.saving` by the module that defines it, and every such module is
imported by the code that builds its objects (the retrieval `DualEncoder`
by the retrieval task in `mmkeras.tasks`), so `keras.saving.load_model`
finds them after `import mmkeras`. See ARCHITECTURE.md for the layout.
"""

import os as _os

# The one intended side effect of `import mmkeras`: TensorFlow reads this once, when it is first imported, and
# would otherwise print its C++ INFO lines on every command; setdefault keeps a value the user set.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mmkeras.errors import DataError, SpecError  # noqa: E402
from mmkeras.specs import load_spec  # noqa: E402
from mmkeras.data import Preprocessor, load_splits, make_dataset, read_table, split_table  # noqa: E402
from mmkeras import layers  # noqa: E402
from mmkeras.encoders import register_encoder  # noqa: E402
from mmkeras.fusion import late as late_fusion  # noqa: E402
from mmkeras.fusion.registry import register_fusion  # noqa: E402
from mmkeras.tasks.outputs.heads import register_head  # noqa: E402
from mmkeras.tasks.outputs import metrics as evaluation  # noqa: E402
from mmkeras.tasks import retrieval  # noqa: E402
from mmkeras.builders import build_model  # noqa: E402
from mmkeras import distribute  # noqa: E402
from mmkeras.export.saved_model import export_saved_model  # noqa: E402
from mmkeras.runs.importance import modality_importance  # noqa: E402
from mmkeras.runs.cv import cross_validate  # noqa: E402
from mmkeras.demo import data as datasets  # noqa: E402
from mmkeras import plot  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "load_spec", "Preprocessor", "build_model", "make_dataset", "export_saved_model",
    "load_splits", "read_table", "split_table",
    "register_encoder", "register_fusion", "register_head",
    "SpecError", "DataError", "datasets", "evaluation", "layers",
    "retrieval",
    "modality_importance",
    "cross_validate", "late_fusion", "distribute", "plot",
]
