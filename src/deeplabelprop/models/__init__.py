"""Backbones (small CNN, 4-conv, 13-layer, WRN-28-k, ResNet-18/50) and their heads."""

from . import pretrained  # noqa: F401  (registers the "pretrained" build of saved models)
from .network import Network
from .registry import BACKBONES, build_model

__all__ = ["BACKBONES", "Network", "build_model"]
