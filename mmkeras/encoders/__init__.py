"""Encoders: one branch per input, looked up by modality and name."""

from mmkeras.encoders.registry import ENCODERS, default_encoder, register_encoder
from mmkeras.encoders import audio, image, image_backbones, kerashub, tabular, text, video  # noqa: F401  (registers the built-ins)
