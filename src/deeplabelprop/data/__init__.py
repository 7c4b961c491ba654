"""Data readers."""

from .arrays import load_features, load_labels
from .idx import read_idx

__all__ = ["load_features", "load_labels", "read_idx"]
