"""Custom Keras layers of mmkeras; each is serialisable and survives `.keras` save/load."""

from mmkeras.layers.audio import MFCC, Chroma, MelSpectrogram, Spectrogram
from mmkeras.layers.pooling import MaskedMeanPooling
from mmkeras.layers.text import PositionEmbedding, TransformerBlock
from mmkeras.layers.missing import MissingEmbedding, ModalityDropout
