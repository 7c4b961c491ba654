"""Calibrated confidence (issue 18): fitted on the labeled points alone, it tracks the
probability that a pseudo label is right, where that probability is known by construction."""

import numpy as np
import pytest

from deeplabelprop import propagate
from deeplabelprop.evaluate import auroc, expected_calibration_error
from deeplabelprop.propagation import get_propagator_class, label_folds
from deeplabelprop.propagation.calibration import apply_temperature, fit_temperature


def overlapping_gaussians(n=3000, n_labeled=150, mu=1.0, seed=0):
    """Two classes N(±μ e1, I) in 2-D, equal priors: the Bayes posterior of class 1 is σ(2μ x1).
    A third coordinate of 4 makes the graph's cosine geometry follow the Euclidean one."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2)) + np.where(truth == 1, mu, -mu)[:, None] * np.array([1.0, 0.0])
    posterior = 1 / (1 + np.exp(-2 * mu * x[:, 0]))
    labels = np.full(n, -1)
    for c in (0, 1):
        labels[rng.choice(np.flatnonzero(truth == c), n_labeled // 2, replace=False)] = c
    return np.c_[x, np.full(n, 4.0)].astype(np.float32), truth, labels, posterior


def right(posterior, pseudo):
    """P(a pseudo label is right | x): the Bayes posterior of the class it names."""
    return np.where(pseudo == 1, posterior, 1 - posterior)


@pytest.mark.parametrize("method", ["diffusion", "knn-vote", "harmonic"])
def test_calibrated_confidence_tracks_the_bayes_posterior(method):
    x, truth, labels, posterior = overlapping_gaussians()
    # heavily overlapping classes want a long walk (α = 0.99: 83.4 % against 80.7 % with the
    # α fitted to the labeled share, which suits clustered embeddings); this test is about
    # the calibration of that propagation
    params = {"alpha": 0.99} if method == "diffusion" else {}
    raw = propagate(x, labels, method, calibration="none", **params)
    cal = propagate(x, labels, method, **params)  # the method's own map: temperature or Platt
    unl = labels < 0
    correct = cal.labels[unl] == truth[unl]
    assert np.array_equal(cal.labels, raw.labels)  # calibration never changes a pseudo label
    # the baseline: the paper's confidence (now only a training weight)
    ece_raw = expected_calibration_error(raw.weights[unl], correct)
    ece_cal = expected_calibration_error(cal.confidence[unl], correct)
    # the probability of being right is known: calibrated, the confidence is close to it
    truly = right(posterior, cal.labels)[unl]
    assert ece_cal < 0.05 and ece_cal < ece_raw, (ece_raw, ece_cal)
    assert np.abs(cal.confidence[unl] - truly).mean() < 0.11
    assert np.corrcoef(cal.confidence[unl], truly)[0, 1] > 0.65
    info = cal.info["calibration"]
    assert info["held_out"] == 150 and info["method"] == get_propagator_class(method).calibration
    assert cal.calibrated and not raw.calibrated
    np.testing.assert_allclose(cal.probabilities.sum(1), 1.0)
    assert (cal.confidence[~unl] == 1).all()


def test_folds_never_hide_a_class_entirely():
    y = np.array([0, 0, 0, 1, 1, 2, -1, -1, 1, 0])
    for n_folds in (2, 5, 20):
        folds = label_folds(y, n_folds=n_folds, seed=3)
        hidden = np.concatenate(folds)
        assert sorted(hidden.tolist()) == [0, 1, 2, 3, 4, 8, 9]  # class 2's single label stays
        for fold in folds:
            rest = y.copy()
            rest[fold] = -1
            assert set(rest[rest >= 0]) == {0, 1, 2}
    # many labels: each fold hides 1/10 of each class
    many = np.repeat(np.arange(3), 100)
    assert max(np.bincount(many[f]).max() for f in label_folds(many)) == 10


def test_temperature_is_the_maximum_likelihood_one():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(400, 3)) * 3
    truth = np.array(
        [rng.choice(3, p=np.exp(r / 2) / np.exp(r / 2).sum()) for r in logits]
    )  # T = 2
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    t = fit_temperature(p, truth)
    nll = lambda s: -np.log(apply_temperature(p, s)[np.arange(400), truth]).mean()  # noqa: E731
    assert nll(t) <= min(nll(t * 0.9), nll(t * 1.1)) and 1.5 < t < 2.7


def test_one_label_per_class_warns_and_gives_the_top_probability():
    """Issue 27: confidence is never the paper's weight and never NaN; uncalibrated, it is the
    method's top class probability, marked calibrated = False."""
    x, _, labels, _ = overlapping_gaussians(n=200)  # noqa: F841
    one = np.full_like(labels, -1)
    one[[np.flatnonzero(labels == c)[0] for c in (0, 1)]] = [0, 1]
    with pytest.warns(UserWarning, match="single label: no label can be held out"):
        r = propagate(x, one, "diffusion")
    assert not r.calibrated and r.out_of_fold is None and r.estimated_accuracy is None
    np.testing.assert_array_equal(r.confidence, r.probabilities.max(axis=1))
    assert not np.allclose(r.confidence[one < 0], r.weights[one < 0])  # ω is not a probability


def test_ece_and_auroc_against_their_definitions():
    rng = np.random.default_rng(1)
    conf = rng.random(500)
    correct = rng.random(500) < conf
    bins = np.minimum((conf * 15).astype(int), 14)
    ece = (
        sum(
            (bins == b).sum() * abs(correct[bins == b].mean() - conf[bins == b].mean())
            for b in range(15)
            if (bins == b).any()
        )
        / 500
    )
    assert expected_calibration_error(conf, correct) == pytest.approx(ece)
    pairs = [(a > b) + 0.5 * (a == b) for a in conf[correct] for b in conf[~correct]]
    assert auroc(conf, correct) == pytest.approx(np.mean(pairs))
    assert auroc(conf, np.ones(500, bool)) == 0.5


@pytest.mark.parametrize("method", ["diffusion", "spectral", "knn-vote", "local", "harmonic"])
def test_out_of_fold_equals_hiding_each_fold_and_propagating_again(method):
    """Issue 27: the batched held-out solves (only the held-out rows, float32 CG for the main
    solve's iterations) give what a separate propagation with the fold hidden gives."""
    x, _, labels, _ = overlapping_gaussians(n=600, n_labeled=60, seed=4)
    params = {
        "spectral": {"eigen_method": "dense", "n_components": 30},
        # solved to convergence: the held-out solves run as many iterations in float32
        # the held-out solves keep the real run's α (an α fitted to fewer labels would differ)
        "diffusion": {"tol": 1e-7, "max_iter": 500, "alpha": 0.97},
        "harmonic": {"tol": 1e-7, "max_iter": 2000},
    }.get(method, {})
    result = propagate(x, labels, method, calibration="platt", **params)
    oof = result.out_of_fold
    folds = label_folds(labels, 10, 0)
    assert sorted(oof.index.tolist()) == sorted(np.concatenate(folds).tolist())
    for fold in folds:
        hidden = labels.copy()
        hidden[fold] = -1
        alone = propagate(x, hidden, method, n_classes=2, calibration="none", **params)
        at = np.searchsorted(oof.index, fold)
        # platt keeps the class probabilities, so they are the raw held-out ones
        np.testing.assert_allclose(oof.probabilities[at], alone.probabilities[fold], atol=2e-4)
    assert (oof.given == labels[oof.index]).all()
    np.testing.assert_allclose(
        oof.margin,
        oof.probabilities.max(1) - oof.probabilities[np.arange(oof.index.size), oof.given],
    )


def test_estimated_accuracy_covers_the_truth():
    """Issue 25 item 4: the mean calibrated confidence estimates the accuracy on the unlabeled
    rows; its 95 % interval (Wilson's, on the held-out count) contains the true accuracy on
    (nearly) every draw, overall and per class."""
    covered, errors = 0, []
    for seed in range(10):
        x, truth, labels, _ = overlapping_gaussians(n=3000, n_labeled=150, seed=seed)
        r = propagate(x, labels, "diffusion", alpha=0.99)  # overlapping classes: a long walk
        unl = labels < 0
        est = r.estimated_accuracy
        true = np.mean(r.labels[unl] == truth[unl])
        covered += est.low <= true <= est.high
        errors.append(est.value - true)
        assert est.n_held_out == 150 and est.value == pytest.approx(r.confidence[unl].mean())
        for k in (0, 1):
            mine = unl & (r.labels == k)
            assert est.per_class[k] == pytest.approx(r.confidence[mine].mean())
            assert est.per_class_held_out[k] == np.sum(r.out_of_fold.labels == k)
    assert covered >= 9, (covered, errors)
    assert abs(np.mean(errors)) < 0.015 and np.mean(np.abs(errors)) < 0.04, errors


def test_wilson_interval_against_its_formula():
    from deeplabelprop.propagation.accuracy import Z95, wilson_interval

    p, m = 0.8, 50
    centre = (p + Z95**2 / (2 * m)) / (1 + Z95**2 / m)
    half = Z95 * np.sqrt(p * (1 - p) / m + Z95**2 / (4 * m * m)) / (1 + Z95**2 / m)
    assert wilson_interval(p, m) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(1.0, 10)[1] == pytest.approx(1.0) and wilson_interval(0.5, 0) == (
        0.0,
        1.0,
    )


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_the_map_applied_in_blocks_equals_it_applied_at_once(method, monkeypatch):
    """CalibrationMap.apply works in blocks of rows (its temporaries stay small at 10 M rows):
    the same numbers, to the bit, as the map over the whole array, and a given label keeps its
    probabilities with confidence 1."""
    import deeplabelprop.propagation.calibration as calibration

    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.full(4, 0.5), size=1000)
    truth = rng.integers(0, 4, 1000)
    fitted = calibration.fit_map(method, p[:300], truth[:300])
    unl = rng.random(1000) < 0.8
    monkeypatch.setattr(calibration, "APPLY_ROWS", 128)  # 8 blocks, the last one short
    q, confidence = fitted.apply(p, unl)
    expected = p.copy()
    expected[unl] = fitted.probabilities(p[unl])
    np.testing.assert_array_equal(q, expected)
    np.testing.assert_array_equal(confidence, np.where(unl, fitted.confidence(p), 1.0))
    assert np.all(confidence[~unl] == 1.0) and np.array_equal(q[~unl], p[~unl])
