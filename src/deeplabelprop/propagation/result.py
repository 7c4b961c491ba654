"""The one result type every propagator returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .confidence import class_balance_weights


@dataclass(frozen=True)
class PropagationResult:
    """Pseudo labels and their confidence for every point (labeled points keep their label).

    Attributes
    ----------
    labels : ndarray of shape (n_samples,)            pseudo label; the given label on labeled points
    scores : ndarray of shape (n_samples, n_classes)  raw per-class scores of the method's equation
    probabilities : ndarray of shape (n_samples, n_classes)
        Rows sum to 1; one-hot on labeled points; uniform where no label mass arrives.
    confidence : ndarray of shape (n_samples,)        in [0, 1]; 1 on labeled points
    weights : ndarray of shape (n_samples,)
        Training weights ω_i ζ_ŷi of Iscen eq. (12): confidence times class balance.
    labeled : ndarray of shape (n_samples,), bool    which points carried a label
    n_iter : int                                       solver iterations (0 for one-shot methods)
    converged : bool
    timings : dict                                     seconds per stage
    info : dict                                        method-specific facts (kNN recall, ...)
    """

    labels: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    confidence: np.ndarray
    weights: np.ndarray
    labeled: np.ndarray
    n_iter: int = 0
    converged: bool = True
    timings: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return self.probabilities.shape[1]


def normalize_rows(scores: np.ndarray) -> np.ndarray:
    """Probabilities from non-negative scores: rows divided by their sum; all-zero rows uniform.

    Negative scores are clipped at 0 first (Iscen: "negative scores clipped at 0"), so a point
    that no label mass reaches gets a uniform distribution instead of NaN (the scikit-learn pitfall).
    """
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, None)
    total = s.sum(axis=1, keepdims=True)
    uniform = np.full_like(s, 1.0 / s.shape[1])
    return np.divide(s, total, out=uniform, where=total > 0)


def finalize(
    labels_in: np.ndarray,
    scores: np.ndarray,
    probabilities: np.ndarray,
    confidence: np.ndarray,
    *,
    n_iter: int = 0,
    converged: bool = True,
    timings: dict | None = None,
    info: dict | None = None,
) -> PropagationResult:
    """Assemble a result: argmax pseudo labels, labeled points clamped to their label with
    probability one-hot and confidence 1, and the Iscen eq. (12) weights."""
    labeled = labels_in >= 0
    n_classes = probabilities.shape[1]
    probabilities = np.array(probabilities, dtype=np.float64)
    labels = probabilities.argmax(axis=1)
    labels[labeled] = labels_in[labeled]
    probabilities[labeled] = np.eye(n_classes)[labels_in[labeled]]
    confidence = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    confidence[labeled] = 1.0
    zeta = class_balance_weights(labels, n_classes)
    return PropagationResult(
        labels=labels,
        scores=np.asarray(scores, dtype=np.float64),
        probabilities=probabilities,
        confidence=confidence,
        weights=confidence * zeta[labels],
        labeled=labeled,
        n_iter=int(n_iter),
        converged=bool(converged),
        timings=dict(timings or {}),
        info=dict(info or {}),
    )
