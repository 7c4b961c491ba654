"""``suggest``: which images to label next, ranked.

1. **Check this label**: the given labels that look wrong (``suspect``), first.
2. **New labels**, ``n`` of them, one per k-means cluster that holds no label yet (k = labels
   given + n, TypiClust's coverage), so a batch never holds two near-duplicates:
   * at a cold start, and while there are fewer than ``UNCERTAIN_FROM`` labels per class, the
     most *typical* point of each uncovered cluster, typicality measured within the cluster
     (TypiClust, Hacohen et al. 2022): at tiny budgets typical points beat uncertain ones (the
     pseudo labels are too weak to say where they are wrong);
   * past that, the point of highest typicality × (1 - calibrated confidence) × a class
     weight 1/√(labels of its pseudo class + 1): where propagation is unsure, in a dense
     region, of a class with few labels (DCoM's switch from typicality to uncertainty by
     budget, Mahmood et al.; the weight keeps rare classes from being starved).
3. **Audit**: ``audit`` rows drawn uniformly at random. Actively chosen labels are not a random
   sample; the audit labels are (their reason says so), for an unbiased check of accuracy.

Each row carries the current pseudo label as its ``guess`` (labeling becomes confirming) and
its calibrated confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_features
from ..errors import InputError
from ..graph import l2_normalize
from .typicality import cluster_typicality, cover_clusters, kmeans_clusters

REASONS = ("check this label", "typical", "uncertain", "audit")
UNCERTAIN_FROM = 5  # labels per class from which uncertainty joins typicality


@dataclass(frozen=True)
class Suggestion:
    """Rows to label, ranked: ``index`` (n_rows,), ``reason`` (one of :data:`REASONS`),
    ``guess`` (the current pseudo label, -1 without one) and ``guess_confidence`` (NaN
    without one)."""

    index: np.ndarray
    reason: list[str]
    guess: np.ndarray
    guess_confidence: np.ndarray


def suggest(
    x: np.ndarray,
    labels: np.ndarray,
    n: int,
    *,
    result=None,
    audit: int = 0,
    seed: int = 0,
) -> Suggestion:
    """``n`` rows of features ``x`` (n_samples, d) to label next, after the suspects of
    ``result`` (a pipeline result on ``labels``; None at a cold start), plus ``audit`` random
    rows."""
    unlabeled = np.flatnonzero(labels < 0)
    if n < 0 or audit < 0:
        raise InputError("-n and --audit must be at least 0")
    if n + audit > unlabeled.size:
        raise InputError(
            f"-n {n} (plus --audit {audit}) is more than the {unlabeled.size} unlabeled images; "
            f"ask for at most {unlabeled.size}"
        )
    checks = []
    if result is not None:
        issues = result.label_issues()
        suspects = np.flatnonzero(issues.suspect)
        checks = suspects[np.argsort(-issues.score[suspects], kind="stable")].tolist()
    picks, reason = choose_new(x, labels, n, result=result, seed=seed)
    rest = np.setdiff1d(unlabeled, picks)
    audits = np.random.default_rng([seed, 17]).choice(rest, audit, replace=False).tolist()
    index = np.array(checks + picks + audits, dtype=np.int64)
    reasons = ["check this label"] * len(checks) + [reason] * len(picks) + ["audit"] * len(audits)
    if result is None:
        guess, confidence = np.full(index.size, -1), np.full(index.size, np.nan)
    else:
        guess, confidence = result.labels[index], result.confidence[index]
        if checks:  # a suspect's guess is the class it came back with when held out
            guess, confidence = guess.copy(), confidence.copy()
            guess[: len(checks)] = issues.oof_label[checks]
            oof = result.out_of_fold
            at = np.searchsorted(oof.index, checks)
            confidence[: len(checks)] = oof.probabilities[at, oof.labels[at]]
    return Suggestion(index, reasons, np.asarray(guess), np.asarray(confidence, dtype=float))


def choose_new(x: np.ndarray, labels: np.ndarray, n: int, *, result=None, seed: int = 0):
    """(rows, reason): ``n`` unlabeled rows, one per uncovered cluster (see the module)."""
    if n == 0:
        return [], "typical"
    labeled = labels >= 0
    x = check_features(x)
    clusters = kmeans_clusters(x, int(labeled.sum()) + n, seed=seed)
    typical = cluster_typicality(l2_normalize(x), clusters, seed=seed)
    n_classes = int(labels.max()) + 1 if labeled.any() else 0
    uncertain = (
        result is not None
        and result.calibrated
        and n_classes > 0
        and labeled.sum() >= UNCERTAIN_FROM * n_classes
    )
    if uncertain:
        per_class = np.bincount(labels[labeled], minlength=result.n_classes)
        class_weight = 1.0 / np.sqrt(per_class + 1.0)
        score = typical * (1.0 - result.confidence) * class_weight[result.labels]
    else:
        score = typical
    candidates = np.flatnonzero(~labeled)
    picks = cover_clusters(clusters, np.flatnonzero(labeled), score, n, candidates)
    if len(picks) < n:  # tiny clusters: the best-scoring of the rest
        rest = np.setdiff1d(candidates, picks)
        picks += rest[np.argsort(-score[rest], kind="stable")][: n - len(picks)].tolist()
    return picks, "uncertain" if uncertain else "typical"
