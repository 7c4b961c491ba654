"""Given labels that look wrong (issue 25 item 3): confident learning on the pipeline's
out-of-fold probabilities finds flipped labels far better than picking labels at random."""

import numpy as np

from deeplabelprop import LabelPropagator, propagate
from deeplabelprop.propagation.suspects import NOT_CHECKED


def blobs(n=1200, c=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(c, 8)) * 3
    truth = rng.integers(0, c, n)
    return (centres[truth] + rng.normal(size=(n, 8))).astype(np.float32), truth


def test_flipped_labels_are_found_and_a_lone_label_is_not_checked():
    x, truth = blobs()
    rng = np.random.default_rng(1)
    y = np.full(truth.size, -1)
    given = rng.choice(truth.size, 300, replace=False)
    y[given] = truth[given]
    # 5 % flipped, each uniformly to another class (flips that agree with each other in one
    # cluster vouch for each other: a rate that keeps them rare)
    flipped = rng.choice(given, 15, replace=False)
    y[flipped] = (truth[flipped] + rng.integers(1, 6, 15)) % 6
    lone = np.flatnonzero(truth == 5)[~np.isin(np.flatnonzero(truth == 5), given)][0]
    y[y == 5] = -1
    y[lone] = 5  # class 5 has one label: it cannot be held out
    issues = propagate(x, y, "diffusion").label_issues()
    wrong = np.zeros(truth.size, bool)
    wrong[flipped[y[flipped] != 5]] = True
    wrong &= y >= 0
    found = issues.suspect
    precision = (found & wrong).sum() / max(found.sum(), 1)
    recall = (found & wrong).sum() / wrong.sum()
    base_rate = wrong.sum() / (y >= 0).sum()  # precision of random picks
    # on Fashion-MNIST the same rule finds 78-85 % at 79-88 % precision (RESULTS.md); these
    # blobs are separated, so the calibration flattens the held-out probabilities and a few
    # flips keep over 5 % for the given class
    assert precision >= 0.8 and recall >= 0.6 and precision > 10 * base_rate, (precision, recall)
    # scores rank the flips first
    checked = issues.checked & (y >= 0)
    order = np.argsort(-issues.score[checked])
    top = np.flatnonzero(checked)[order[: wrong.sum()]]
    assert wrong[top].mean() >= 0.8
    # the out-of-fold class of a flip is (mostly) its true class
    assert np.mean(issues.oof_label[wrong] == truth[wrong]) >= 0.8
    # a lone label is not checked: no suspect, a NaN score, no out-of-fold class
    assert not issues.suspect[lone] and np.isnan(issues.score[lone])
    assert issues.oof_label[lone] == NOT_CHECKED
    assert not issues.suspect[y < 0].any() and np.isnan(issues.score[y < 0]).all()


def test_the_estimator_exposes_label_issues():
    x, truth = blobs(seed=2)
    y = np.where(np.arange(truth.size) % 10 == 0, truth, -1)
    y[0] = (truth[0] + 1) % 6
    clf = LabelPropagator().fit(x, y)
    assert clf.label_issues_.suspect[0] and clf.label_issues_.oof_label[0] == truth[0]
