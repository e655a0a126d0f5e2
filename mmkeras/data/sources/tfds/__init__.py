"""TensorFlow Datasets both ways: a TFDS dataset as a run's source (`source.py`), a folder data set as a TFDS dataset (`build.py`).

`features.py` maps TFDS features onto mmkeras inputs and outputs; `serving.py` makes what the export serves
(encoded bytes) from TFDS examples.
"""

from mmkeras.data.sources.tfds.build import build_tfds_dataset, tfds_spec_dict, write_tfds_spec
from mmkeras.data.sources.tfds.source import TfdsSource, open_builder

__all__ = ["TfdsSource", "build_tfds_dataset", "open_builder", "tfds_spec_dict", "write_tfds_spec"]
