"""Estimated accuracy of the pseudo labels on the unlabeled rows, overall and per class, with a
95 % interval, from the calibrated confidence alone (no truth).

The estimate is the mean calibrated confidence: if each confidence is the probability that its
pseudo label is right, their mean is the expected share of right ones. The interval carries the
uncertainty of the calibration map, which was fitted on m held-out labels and can state an
accuracy no more precisely than m labels can measure it: ± z·√(a(1 - a)/m) (Wilson's score
interval, which stays inside [0, 1] at small m). Per class, m is the number of held-out labels
that propagation gave that class (the precision of a pseudo class is measured on them).
The sampling error of the mean over the unlabeled rows themselves is negligible beside it.

That holds when the held-out labels are a random sample. Labels chosen by ``suggest`` are
not: typical images come back right when held out more often than the average image does, and
the estimate reads high (+2 to +11 points along a loop of suggested labels on Fashion-MNIST,
benchmarks/RESULTS.md). The **audit** rows are a random sample (``suggest`` draws them
uniformly from the unlabeled images): given them, the estimate carries an :class:`AuditCheck`,
how many of them came back as given when hidden, with Wilson's interval, and says when the
estimate falls outside it. The estimate itself still uses every held-out label: measured along
the same loop at 3 audit rows a round, the audit rows' hit rate spread by ±12 to ±31 points
over 3 splits and a prediction-powered estimate from them (Angelopoulos et al. 2023) by ±6 to
±20, against errors of +4 to +11 (spread ±1 to ±7) for this one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959964


def wilson_interval(p: float, m: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``p`` measured on ``m`` trials ((0, 1) for m = 0)."""
    if m <= 0:
        return 0.0, 1.0
    centre = (p + z * z / (2 * m)) / (1 + z * z / m)
    half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


@dataclass(frozen=True)
class AuditCheck:
    """Of ``n`` audit rows (labels drawn at random), ``hits`` came back as given when hidden:
    an unbiased measure of accuracy whatever the other labels were, ``low``-``high`` its 95 %
    interval (Wilson)."""

    n: int
    hits: int
    low: float
    high: float

    def agrees(self, value: float) -> bool:
        """``value`` lies within what the audit rows measured."""
        return self.low <= value <= self.high

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "hits": self.hits,
            "low": round(self.low, 4),
            "high": round(self.high, 4),
        }

    @classmethod
    def from_dict(cls, d: dict) -> AuditCheck:
        return cls(int(d["n"]), int(d["hits"]), float(d["low"]), float(d["high"]))


@dataclass(frozen=True)
class AccuracyEstimate:
    """Expected accuracy of the pseudo labels (overall and per pseudo class) with 95 % intervals.

    ``per_class`` arrays are indexed by class; a class with no pseudo label has NaN there.
    ``n_held_out`` is the number of held-out labels behind the interval.
    """

    value: float
    low: float
    high: float
    n_held_out: int
    per_class: np.ndarray  # (c,)
    per_class_low: np.ndarray
    per_class_high: np.ndarray
    per_class_held_out: np.ndarray  # (c,) int
    audit: AuditCheck | None = None  # how the audit rows fared, where there are some

    def to_dict(self, classes: list[str]) -> dict:
        """``{"value", "low", "high", "held_out", "per_class": {name: {...}}}`` (JSON-ready)."""

        def num(v: float):
            return None if not np.isfinite(v) else round(float(v), 4)

        return {
            "value": num(self.value),
            "low": num(self.low),
            "high": num(self.high),
            "held_out": int(self.n_held_out),
            "audit": None if self.audit is None else self.audit.to_dict(),
            "per_class": {
                str(name): {
                    "value": num(self.per_class[k]),
                    "low": num(self.per_class_low[k]),
                    "high": num(self.per_class_high[k]),
                    "held_out": int(self.per_class_held_out[k]),
                }
                for k, name in enumerate(classes)
            },
        }

    @classmethod
    def from_dict(cls, d: dict) -> AccuracyEstimate:
        per = list(d["per_class"].values())

        def arr(key: str) -> np.ndarray:
            return np.array([np.nan if p[key] is None else p[key] for p in per], dtype=np.float64)

        return cls(
            np.nan if d["value"] is None else d["value"],
            np.nan if d["low"] is None else d["low"],
            np.nan if d["high"] is None else d["high"],
            int(d["held_out"]),
            arr("value"),
            arr("low"),
            arr("high"),
            np.array([p["held_out"] for p in per], dtype=np.int64),
            AuditCheck.from_dict(d["audit"]) if d.get("audit") else None,
        )


def estimate_accuracy(
    confidence: np.ndarray,
    pseudo: np.ndarray,
    unlabeled: np.ndarray,
    held_out_labels: np.ndarray,
    n_classes: int,
) -> AccuracyEstimate:
    """The estimate from calibrated ``confidence`` (n,), pseudo labels (n,) and the unlabeled
    mask; ``held_out_labels`` (m,) are the classes the held-out labels came back with (their
    out-of-fold labels), which size the per-class intervals."""
    conf, labels = confidence[unlabeled], pseudo[unlabeled]
    m = int(held_out_labels.size)
    value = float(conf.mean()) if conf.size else float("nan")
    low, high = wilson_interval(value, m) if conf.size else (np.nan, np.nan)
    per = np.full(n_classes, np.nan)
    per_low, per_high = per.copy(), per.copy()
    per_m = np.bincount(held_out_labels, minlength=n_classes)[:n_classes]
    for k in range(n_classes):
        mine = conf[labels == k]
        if mine.size:
            per[k] = mine.mean()
            per_low[k], per_high[k] = wilson_interval(per[k], int(per_m[k]))
    return AccuracyEstimate(value, low, high, m, per, per_low, per_high, per_m)


def audit_check(correct: np.ndarray) -> AuditCheck:
    """The audit rows' verdict: ``correct`` (bool) says which came back as given when hidden."""
    n, hits = int(correct.size), int(np.count_nonzero(correct))
    low, high = wilson_interval(hits / n if n else 0.0, n)
    return AuditCheck(n, hits, low, high)


def disagreement(value: float, check: AuditCheck) -> str:
    """The warning when the estimate lies outside what the audit rows measured."""
    return (
        f"the estimated accuracy {100 * value:.1f} % is outside what the {check.n} audit labels "
        f"measured ({check.hits} of {check.n} came back right when hidden: "
        f"{100 * check.low:.0f}-{100 * check.high:.0f} %); the other labels were chosen (typical "
        "or uncertain images), so trust the audit figure, and label more audit rows to narrow it"
    )
