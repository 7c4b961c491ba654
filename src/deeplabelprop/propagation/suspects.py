"""Given labels that look wrong, from the out-of-fold class probabilities of the pipeline.

Each given label was hidden once and propagated again on the same graph, and the held-out
probabilities were calibrated. cleanlab's label quality score ``self_confidence`` is the
calibrated probability the held-out propagation gives the *given* class; a label is a suspect
when that probability is below ``SUSPECT_BELOW`` = 0.05 (propagation, not knowing the label,
gives it less than a 1-in-20 chance). ``suspect_score`` = 1 - self-confidence ranks them.

Chosen by measurement (benchmarks/suspects.py; RESULTS "Suspect labels"): with 10 % of 1,000
Fashion-MNIST labels flipped, the threshold found 81 % of the flips at 89 % precision on the
tuning splits, where cleanlab's confident-learning filters (``find_label_issues``, every
``filter_by``) flagged twice as many labels at 42-50 % precision: at ~80 % out-of-fold accuracy
a true label of a confusable class (shirt, T-shirt, pullover) often comes back as another
class, but rarely with under 5 % for its own.

The held-out propagation must also be sure of the class it gives instead (calibrated confidence
≥ ``SURE_OF_OTHER`` = 0.3): the Platt and isotonic maps calibrate the top class only and leave
the class probabilities raw, with exact zeros for classes no vote reached, so on weak features
"under 0.05 for the given class" alone flags labels the propagation has no better answer for.

A label that could not be held out (its class's only label) is not checked: no suspect, a NaN
score, no out-of-fold class. A label of a class with fewer than ``MIN_PER_CLASS`` = 3 labels is
scored but never a suspect: hiding one of two leaves a single label to stand for its class, and
on a folder of digits with two labels per class half the labels came back under 0.05.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .out_of_fold import OutOfFold

SUSPECT_BELOW = 0.05  # calibrated held-out probability of the given class
MIN_PER_CLASS = 3  # labels a class needs before one of them can be called a suspect
SURE_OF_OTHER = 0.3  # calibrated confidence the held-out propagation needs in its own class
NOT_CHECKED = -1


@dataclass(frozen=True)
class LabelIssues:
    """Per row of the data set (n,): ``suspect`` (bool), ``score`` (in [0, 1], NaN where not
    checked) and ``oof_label`` (the out-of-fold class, -1 where not checked)."""

    suspect: np.ndarray
    score: np.ndarray
    oof_label: np.ndarray

    @property
    def checked(self) -> np.ndarray:
        return self.oof_label != NOT_CHECKED


def find_label_issues(oof: OutOfFold | None, n_samples: int, n_classes: int) -> LabelIssues:
    """The given labels that look wrong, from out-of-fold probabilities (see the module)."""
    suspect = np.zeros(n_samples, dtype=bool)
    score = np.full(n_samples, np.nan)
    oof_label = np.full(n_samples, NOT_CHECKED, dtype=np.int64)
    if oof is None or oof.index.size == 0 or n_classes < 2:  # nothing held out, or no rival
        return LabelIssues(suspect, score, oof_label)
    # imported here: cleanlab (with pandas) costs ~0.3 s to import, and only this needs it
    from cleanlab.rank import get_label_quality_scores

    probabilities = np.clip(oof.probabilities, 0.0, 1.0)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    quality = get_label_quality_scores(oof.given, probabilities, method="self_confidence")
    enough = np.bincount(oof.given, minlength=n_classes)[oof.given] >= MIN_PER_CLASS
    sure = oof.confidence >= SURE_OF_OTHER if oof.confidence is not None else True
    suspect[oof.index] = (quality < SUSPECT_BELOW) & enough & sure
    score[oof.index] = 1.0 - quality
    oof_label[oof.index] = oof.labels
    return LabelIssues(suspect, score, oof_label)
