"""Audit rows (issue 25 item 2): labels drawn at random, named as such, check an estimated
accuracy that labels chosen for being easy push up."""

import warnings

import numpy as np
import pytest

from deeplabelprop import propagate
from deeplabelprop.errors import DataWarning, InputError
from deeplabelprop.propagation.accuracy import AccuracyEstimate, audit_check, wilson_interval
from tests.propagation.test_calibration import overlapping_gaussians


def test_the_check_is_the_audit_rows_hit_rate_with_wilsons_interval():
    c = audit_check(np.array([True, False, True, True, True]))
    assert (c.n, c.hits) == (5, 4) and (c.low, c.high) == pytest.approx(wilson_interval(0.8, 5))
    assert c.agrees(0.8) and not c.agrees(c.high + 0.01)


def labels_of(truth, rows):
    y = np.full(truth.size, -1)
    y[rows] = truth[rows]
    return y


def test_the_audit_rows_are_the_held_out_ones_drawn_at_random():
    x, truth, _, _ = overlapping_gaussians(n=3000, n_labeled=2, seed=1)
    rng = np.random.default_rng(1)
    rows = rng.choice(truth.size, 120, replace=False)
    audit = rows[:30]
    r = propagate(x, labels_of(truth, rows), alpha=0.99, audit=audit)
    oof = r.out_of_fold
    at = np.isin(oof.index, audit)
    hits = int(np.sum(oof.labels[at] == oof.given[at]))
    est = r.estimated_accuracy
    assert (est.audit.n, est.audit.hits) == (30, hits)
    # the estimate itself is the one without the audit mask (every held-out label)
    plain = propagate(x, labels_of(truth, rows), alpha=0.99).estimated_accuracy
    assert plain.audit is None and (est.value, est.low, est.high) == (
        plain.value,
        plain.low,
        plain.high,
    )
    again = AccuracyEstimate.from_dict(est.to_dict(["a", "b"]))
    assert (again.audit.n, again.audit.hits) == (30, hits)
    assert again.audit.low == pytest.approx(est.audit.low, abs=1e-4)


def unlabeled_subpopulation(seed):
    """Class 0 at A, class 1 at B and at C, where C lies on A: a part of class 1 that the
    features cannot tell from class 0, and that labels chosen as typical of A and B never
    reach. (features (3000, 3), truth, the 50 most central points of A and of B)"""
    rng = np.random.default_rng(seed)
    centres, classes = np.array([[-3.0, 0.0], [3.0, 0.0], [-3.0, 0.0]]), np.array([0, 1, 1])
    blob = np.repeat(np.arange(3), 1000)
    x = centres[blob] + rng.normal(size=(3000, 2)) * 0.6
    d = np.linalg.norm(x - centres[blob], axis=1)
    typical = [np.flatnonzero(blob == b)[np.argsort(d[blob == b])[:50]] for b in (0, 1)]
    return np.c_[x, np.full(3000, 8.0)].astype(np.float32), classes[blob], np.concatenate(typical)


def test_typical_labels_that_the_audit_rows_contradict_are_said():
    """Held-out typical labels come back right: the estimate reads high. 30 audit rows drawn at
    random reach the unlabeled part; their hit rate holds the truth, and a warning says the
    estimate lies outside it."""
    said = 0
    for seed in range(8):
        x, truth, typical = unlabeled_subpopulation(seed)
        audit = np.random.default_rng(seed).choice(
            np.setdiff1d(np.arange(truth.size), typical), 30, replace=False
        )
        y = labels_of(truth, np.r_[typical, audit])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = propagate(x, y, audit=audit)
        est, unl = r.estimated_accuracy, y < 0
        true = np.mean(r.labels[unl] == truth[unl])
        assert est.value > true + 0.08 and est.audit.low <= true <= est.audit.high
        said += any(
            issubclass(w.category, DataWarning) and "outside what the 30 audit" in str(w.message)
            for w in caught
        )
    assert said >= 5, said


def test_an_audit_row_must_be_labeled():
    x, _, labels, _ = overlapping_gaussians(n=300, n_labeled=20)
    with pytest.raises(InputError, match="audit row 0 has no label"):
        propagate(x, np.where(np.arange(300) == 0, -1, labels), audit=[0])
    with pytest.raises(InputError, match="one per row"):
        propagate(x, labels, audit=np.zeros(10, bool))
