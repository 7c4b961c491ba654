"""Each epoch's pseudo labels, kept compactly for plots (Iscen Fig. 4-5) and reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import save_npz


def record_pseudo_labels(
    epoch: int,
    labels: np.ndarray,
    weights: np.ndarray,
    given: np.ndarray,
    *,
    truth: np.ndarray | None = None,
    pseudo_dir: Path | None = None,
    **arrays,
) -> dict:
    """Metrics of one epoch's pseudo labels, and ``pseudo_dir/epoch_NNN.npz`` when given.

    ``labels`` (N,) and ``weights`` (N,) cover every point; ``given`` (N,) holds the labels with
    -1 on the unlabeled points. Returns the pseudo-label accuracy on the unlabeled points (with
    ``truth``) and their mean weight. The file keeps labels as int16 and weights as float16, plus
    ``labeled`` and any further ``arrays``.
    """
    unl = np.asarray(given) < 0
    info: dict = {}
    if truth is not None and unl.any():
        info["pseudo_label_accuracy"] = float(np.mean(labels[unl] == truth[unl]))
    info["mean_weight"] = float(weights[unl].mean()) if unl.any() else 1.0
    if pseudo_dir is not None:
        save_npz(
            Path(pseudo_dir) / f"epoch_{epoch:03d}.npz",
            labels=np.asarray(labels).astype(np.int16),
            weights=np.asarray(weights).astype(np.float16),
            labeled=~unl,
            **arrays,
        )
    return info
