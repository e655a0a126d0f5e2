"""Fusion: how the per-input vectors are joined (one module per family, `late.py` for late fusion)."""

from mmkeras.fusion.registry import FUSIONS, build_fusion, fusion_options, register_fusion
from mmkeras.fusion.base import ConcatFusion, FusionLayer, ProjectedFusion
from mmkeras.fusion.attention import AttentionFusion, GatedFusion
from mmkeras.fusion.pooling import MeanFusion, SumFusion, WeightedFusion
from mmkeras.fusion.transformer import TransformerFusion
from mmkeras.fusion.late import LateFusion

__all__ = ["FUSIONS", "build_fusion", "fusion_options", "register_fusion", "FusionLayer", "ProjectedFusion",
           "ConcatFusion", "SumFusion", "MeanFusion", "WeightedFusion", "AttentionFusion", "GatedFusion",
           "TransformerFusion", "LateFusion"]
