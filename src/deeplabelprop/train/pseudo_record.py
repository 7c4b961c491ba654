"""Each epoch's pseudo labels, kept for plots (Iscen Fig. 4-5) and reports, in the one
pseudo-label file format (compact)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..propagation import PropagationResult


def record_epoch(
    epoch: int,
    result: PropagationResult,
    *,
    truth: np.ndarray | None = None,
    pseudo_dir: Path | None = None,
    classes=None,
) -> dict:
    """Metrics of one epoch's pseudo labels, and ``pseudo_dir/epoch_NNN.npz`` when given.

    Returns the pseudo-label accuracy on the unlabeled points (with ``truth``) and their mean
    training weight.
    """
    unl = ~result.labeled
    info: dict = {}
    if truth is not None and unl.any():
        info["pseudo_label_accuracy"] = float(np.mean(result.labels[unl] == truth[unl]))
    info["mean_weight"] = float(result.weights[unl].mean()) if unl.any() else 1.0
    if pseudo_dir is not None:
        result.save(Path(pseudo_dir) / f"epoch_{epoch:03d}.npz", classes, compact=True)
    return info
