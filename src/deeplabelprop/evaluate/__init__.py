"""Metrics, plots and reports."""

from .metrics import (
    accumulated_accuracy_curve,
    auroc,
    average_precision,
    expected_calibration_error,
    pseudo_label_accuracy,
    pseudo_label_map,
    top_fraction_accuracy,
)

__all__ = [
    "accumulated_accuracy_curve",
    "auroc",
    "average_precision",
    "expected_calibration_error",
    "top_fraction_accuracy",
    "pseudo_label_accuracy",
    "pseudo_label_map",
]
