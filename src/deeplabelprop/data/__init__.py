"""Data readers."""

from .arrays import load_features, load_labels

__all__ = ["load_features", "load_labels"]
