"""Quality of pseudo labels: accuracy, DMT's mAP by confidence (Table 1), the Figure 3 curve."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def _mask(n: int, mask) -> np.ndarray:
    if mask is None:
        return np.ones(n, dtype=bool)
    m = np.asarray(mask)
    if m.dtype != bool:
        out = np.zeros(n, dtype=bool)
        out[m.astype(np.int64)] = True
        return out
    return m


def pseudo_label_accuracy(pseudo_labels: np.ndarray, true_labels: np.ndarray, mask=None) -> float:
    """Fraction of correct pseudo labels on ``mask`` (bool mask or indices; default all points).

    Pass ``mask = labels == -1`` to score the unlabeled points only.
    """
    pred, truth = np.asarray(pseudo_labels), np.asarray(true_labels)
    if pred.shape != truth.shape:
        raise InputError(
            f"pseudo labels {pred.shape} and true labels {truth.shape} differ in shape"
        )
    m = _mask(pred.shape[0], mask)
    if not m.any():
        raise InputError("no point selected to score")
    return float(np.mean(pred[m] == truth[m]))


def accumulated_accuracy_curve(
    confidence: np.ndarray, correct: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """DMT Figure 3: accuracy of the top-r most confident pseudo labels, for r = 1/m ... 1.

    Returns (ratios, accuracies), each of shape (m,): accuracies[i] is the accuracy of the
    i + 1 most confident points (ties broken by index).
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    order = np.argsort(-conf, kind="stable")
    m = conf.shape[0]
    ranks = np.arange(1, m + 1)
    return ranks / m, np.cumsum(ok[order]) / ranks


def average_precision(confidence: np.ndarray, correct: np.ndarray) -> float:
    """AP of the ranking by confidence with "correct pseudo label" as relevance.

    AP = (1/R) Σ_{k: item k correct} precision@k, R = number correct; 0 when nothing is correct.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)[np.argsort(-conf, kind="stable")]
    if not ok.any():
        return 0.0
    precision_at = np.cumsum(ok) / np.arange(1, ok.size + 1)
    return float(precision_at[ok].mean())


def pseudo_label_map(
    confidence: np.ndarray, pseudo_labels: np.ndarray, true_labels: np.ndarray, mask=None
) -> float:
    """DMT Table 1: mean over pseudo classes of the AP of pseudo labels sorted by confidence.

    For each class c, the points pseudo-labelled c are ranked by confidence and the AP of
    "pseudo label is correct" is taken (:func:`average_precision`); the mAP is their mean
    over the classes that received at least one pseudo label.
    """
    pred, truth = np.asarray(pseudo_labels), np.asarray(true_labels)
    conf = np.asarray(confidence, dtype=np.float64)
    m = _mask(pred.shape[0], mask)
    pred, truth, conf = pred[m], truth[m], conf[m]
    aps = [
        average_precision(conf[pred == c], pred[pred == c] == truth[pred == c])
        for c in np.unique(pred)
    ]
    if not aps:
        raise InputError("no point selected to score")
    return float(np.mean(aps))


def nearest_neighbor_accuracy(queries, bank, bank_labels, truth, block: int = 4096) -> float:
    """LLP Table 6's NN accuracy: each query (a torch tensor of unit rows) takes the (pseudo)
    label of its most similar bank row; the fraction that equals ``truth``."""
    import torch

    with torch.no_grad():
        pred = torch.cat(
            [
                bank_labels[(queries[s : s + block] @ bank.T).argmax(1)]
                for s in range(0, len(queries), block)
            ]
        )
    return float(np.mean(pred.cpu().numpy() == np.asarray(truth)))


def expected_calibration_error(confidence, correct, n_bins: int = 15) -> float:
    """ECE: Σ_bins (|bin| / n) · |accuracy(bin) - mean confidence(bin)| over equal-width bins of
    the confidence in [0, 1] (Guo et al. 2017)."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        raise InputError("no point selected to score")
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        m = bins == b
        total += m.sum() * abs(ok[m].mean() - conf[m].mean())
    return float(total / conf.size)


def auroc(confidence, correct) -> float:
    """Area under the ROC curve of ``confidence`` separating correct from wrong pseudo labels:
    the probability that a random correct one is more confident than a random wrong one (ties
    count one half; Mann-Whitney). 0.5 when one of the two groups is empty."""
    from scipy.stats import rankdata

    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    n_pos, n_neg = int(ok.sum()), int((~ok).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    ranks = rankdata(conf)
    return float((ranks[ok].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def top_fraction_accuracy(confidence, correct, fraction: float) -> float:
    """Accuracy of the most confident ``fraction`` of the pseudo labels (DMT Fig. 3 read at one
    point; ties broken by index)."""
    conf = np.asarray(confidence, dtype=np.float64)
    order = np.argsort(-conf, kind="stable")[: max(1, int(round(fraction * conf.size)))]
    return float(np.mean(np.asarray(correct, dtype=bool)[order]))
