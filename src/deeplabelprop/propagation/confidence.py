"""Confidence of pseudo labels, class-balance weights and confident-subset selection.

Pure functions of probabilities / scores; each cites the equation it implements.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from ..errors import InputError

DMT_SIGMA = 40.0  # DMT §4: "σ = 40 across the experiments"


def margin_confidence(scores: np.ndarray, temperature: float = 1.0 / DMT_SIGMA) -> np.ndarray:
    """DMT eq. (8)-(9): z̄ = softmax(z / τ); α = top-1 minus top-2 of z̄.

    Applied to row-normalised scores (probabilities) the paper's σ = 40 is the inverse
    temperature: τ = 1/40, the default.

    Parameters
    ----------
    scores : ndarray of shape (n_samples, n_classes)
    temperature : float
        τ > 0; smaller is sharper.

    Returns
    -------
    ndarray of shape (n_samples,) in [0, 1]; 0 for one class (no alternative to compare).
    """
    z = np.asarray(scores, dtype=np.float64)
    if temperature <= 0:
        raise InputError(f"temperature must be positive, got {temperature}")
    if z.shape[1] < 2:
        return np.zeros(z.shape[0])
    p = softmax(z / temperature, axis=1)
    top2 = np.partition(p, -2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def entropy_weight(probabilities: np.ndarray, *, normalize_max: bool = True) -> np.ndarray:
    """Iscen eq. (11): ω_i = 1 - H(ẑ_i) / log c, then divided by max ω (Iscen's code) so max ω = 1.

    ``probabilities`` are the row-normalised ẑ. With ``normalize_max`` the weights are divided
    by their maximum when it is positive (all-zero weights stay zero).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    c = p.shape[1]
    if c < 2:
        return np.ones(p.shape[0])
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    omega = 1.0 - (-plogp.sum(axis=1)) / np.log(c)
    omega = np.clip(omega, 0.0, 1.0)
    if normalize_max and omega.size and omega.max() > 0:
        omega = omega / omega.max()
    return omega


def top_probability(probabilities: np.ndarray) -> np.ndarray:
    """LLP eq. (6): c = p_y(v), the probability of the predicted class."""
    return np.asarray(probabilities, dtype=np.float64).max(axis=1)


def class_balance_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Iscen §4: ζ_j ∝ (|L_j| + |U_j|)^-1, scaled to mean 1 over the classes.

    ``labels`` are the (pseudo) labels of all points that enter the loss. A class with no
    example at all gets ζ = 1 (no example uses it) instead of a division by zero, and the
    others are scaled to mean 1 among themselves, so the mean over all classes is exactly 1.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(np.float64)
    zeta = np.ones(n_classes)
    present = counts > 0
    if present.any():
        inv = 1.0 / counts[present]
        zeta[present] = inv / inv.mean()
    return zeta


def select_confident(
    confidence: np.ndarray,
    ratio: float,
    *,
    labels: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
    per_class: bool = False,
    tie_break: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the most confident ``ratio`` of the candidates (DMT released code's variant).

    Parameters
    ----------
    confidence : ndarray of shape (n_samples,)
    ratio : float in [0, 1]
        Fraction kept: floor(ratio · m) of m candidates (per class with ``per_class``).
    labels : ndarray of shape (n_samples,), required with ``per_class``
    candidates : ndarray of indices or bool mask, optional (default: all points)
    per_class : bool
        Keep the top ratio within each pseudo class instead of globally.
    tie_break : ndarray of shape (n_samples,), optional
        Ranks points of equal confidence, higher first (e.g. the top probability where DMT's
        σ = 40 margin saturates at 1). Remaining ties are broken by index (stable).

    Returns
    -------
    ndarray of int64 indices, sorted ascending.
    """
    if not 0.0 <= ratio <= 1.0:
        raise InputError(f"ratio must be in [0, 1], got {ratio}")
    conf = np.asarray(confidence, dtype=np.float64)
    if candidates is None:
        cand = np.arange(conf.shape[0])
    else:
        cand = np.asarray(candidates)
        cand = np.flatnonzero(cand) if cand.dtype == bool else cand.astype(np.int64)
    if per_class:
        if labels is None:
            raise InputError("per_class selection needs the pseudo labels")
        groups = [cand[np.asarray(labels)[cand] == c] for c in np.unique(np.asarray(labels)[cand])]
    else:
        groups = [cand]
    keep = []
    for g in groups:
        n_keep = int(np.floor(ratio * g.size + 1e-9))
        if tie_break is None:
            order = np.argsort(-conf[g], kind="stable")
        else:  # lexsort: the last key is the primary one; both stable
            order = np.lexsort((-np.asarray(tie_break, dtype=np.float64)[g], -conf[g]))
        keep.append(g[order[:n_keep]])
    return np.sort(np.concatenate(keep)) if keep else np.empty(0, dtype=np.int64)
