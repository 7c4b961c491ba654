"""The report's tables: one summary row per run, and per-class counts and accuracies."""

from __future__ import annotations

import numpy as np

from ..metrics import auroc, expected_calibration_error, pseudo_label_accuracy, pseudo_label_map
from .load import Run


def per_class(run: Run) -> list[dict]:
    """Labeled count, pseudo-labeled count, pseudo-label precision and test accuracy per class."""
    rows = []
    unl = None if run.labeled is None else ~run.labeled
    for c, name in enumerate(run.classes):
        row: dict = {"class": name}
        if run.labeled is not None and run.truth is not None:
            row["labeled"] = int(np.sum(run.labeled & (run.truth == c)))
        elif run.labeled is not None and run.pseudo is not None:
            row["labeled"] = int(np.sum(run.labeled & (run.pseudo == c)))
        if run.pseudo is not None and unl is not None:
            mine = unl & (run.pseudo == c)
            row["pseudo_labeled"] = int(mine.sum())
            if run.truth is not None:
                row["pseudo_label_accuracy"] = (
                    float(np.mean(run.truth[mine] == c)) if mine.any() else None
                )
        if run.test_predictions is not None and run.test_labels is not None:
            m = run.test_labels == c
            row["test_accuracy"] = float(np.mean(run.test_predictions[m] == c)) if m.any() else None
        rows.append(row)
    return rows


def summary(run: Run) -> dict:
    """One row of final metrics."""
    row = {"run": run.name, "recipe": run.kind}
    if run.labeled is not None:
        row["labels"] = int(run.labeled.sum())
    if run.test_predictions is not None and run.test_labels is not None:
        row["test_accuracy"] = float(np.mean(run.test_predictions == run.test_labels))
    elif run.results.get("test_accuracy") is not None:
        row["test_accuracy"] = run.results["test_accuracy"]
    if (
        run.pseudo is not None
        and run.truth is not None
        and run.labeled is not None
        and (~run.labeled).any()
    ):
        unl = ~run.labeled
        row["pseudo_label_accuracy"] = pseudo_label_accuracy(run.pseudo, run.truth, unl)
        row["pseudo_label_map"] = pseudo_label_map(run.confidence, run.pseudo, run.truth, unl)
        correct = run.pseudo[unl] == run.truth[unl]
        row["confidence_ece"] = expected_calibration_error(run.confidence[unl], correct)
        row["confidence_auroc"] = auroc(run.confidence[unl], correct)
    return row
