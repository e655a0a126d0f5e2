"""Custom Keras layers of mmkeras; each is serialisable and survives `.keras` save/load."""

from mmkeras.layers.fusion import ConcatFusion
from mmkeras.layers.pooling import MaskedMeanPooling
