"""Metrics, plots and reports."""

from .metrics import (
    accumulated_accuracy_curve,
    average_precision,
    pseudo_label_accuracy,
    pseudo_label_map,
)

__all__ = [
    "accumulated_accuracy_curve",
    "average_precision",
    "pseudo_label_accuracy",
    "pseudo_label_map",
]
