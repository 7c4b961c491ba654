"""Invariants every registered propagator keeps, and property tests on degenerate inputs
(issue 2). Each method runs at its defaults, fitted to the data by the one sizing mechanism, so
a new propagator is covered here without editing this file."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeplabelprop import PROPAGATORS, InputError, Pipeline
from deeplabelprop.propagation import parameter_names


def build(method, **params):
    """The pipeline of the method at its defaults (size parameters fitted to the data),
    exact where it can be (so comparisons are not limited by a solver tolerance)."""
    if "eigen_method" in parameter_names(method):
        params.setdefault("eigen_method", "dense")
    return Pipeline(method, params=params)


def check_result(r, labels, n_classes):
    n = labels.shape[0]
    assert r.labels.shape == (n,) and r.probabilities.shape == (n, n_classes)
    assert np.isfinite(r.probabilities).all() and np.isfinite(r.confidence).all()
    np.testing.assert_allclose(r.probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert (r.probabilities >= 0).all()
    assert (r.confidence >= 0).all() and (r.confidence <= 1).all()
    lab = labels >= 0
    assert (r.labels[lab] == labels[lab]).all()  # labeled points keep their labels
    assert (r.confidence[lab] == 1).all()
    assert ((r.labels >= 0) & (r.labels < n_classes)).all()
    assert np.isfinite(r.weights).all() and (r.weights >= 0).all()


@pytest.mark.parametrize("method", sorted(PROPAGATORS))
def test_invariants_and_accuracy_on_blobs(method, blobs):
    x, truth, labels = blobs
    r = build(method).run(x, labels)
    check_result(r, labels, 3)
    assert (r.labels == truth).mean() > 0.9


@pytest.mark.parametrize("method", sorted(PROPAGATORS))
def test_permutation_equivariance(method, blobs):
    x, _, labels = blobs
    perm = np.random.default_rng(5).permutation(len(x))
    a = build(method).run(x, labels)
    b = build(method).run(x[perm], labels[perm])
    np.testing.assert_array_equal(a.labels[perm], b.labels)
    np.testing.assert_allclose(a.probabilities[perm], b.probabilities, atol=1e-6)


@pytest.mark.parametrize("method", sorted(PROPAGATORS))
def test_bad_labels_are_clear_errors(method, blobs):
    x, _, labels = blobs
    p = build(method)
    with pytest.raises(InputError, match="no labeled point"):
        p.run(x, np.full(len(x), -1))
    with pytest.raises(InputError, match="out of range"):
        p.run(x, np.where(labels == 0, -2, labels))
    with pytest.raises(InputError, match="class 3 has no labeled example"):
        p.run(x, labels, n_classes=5)
    with pytest.raises(InputError, match="entries but features have"):
        p.run(x, labels[:-1])
    with pytest.raises(InputError, match="NaN"):
        p.run(np.where(np.arange(len(x))[:, None] == 7, np.nan, x), labels)


@st.composite
def degenerate_problem(draw):
    n_unique = draw(st.integers(3, 12))  # at least 3 points, so k = 2 is possible
    dim = draw(st.integers(1, 4))
    base = draw(
        st.lists(
            st.lists(st.floats(-3, 3, allow_nan=False, width=32), min_size=dim, max_size=dim),
            min_size=n_unique,
            max_size=n_unique,
        )
    )
    repeats = draw(st.lists(st.integers(1, 4), min_size=n_unique, max_size=n_unique))  # duplicates
    x = np.repeat(np.array(base, dtype=np.float32), repeats, axis=0)
    n_zero = draw(st.integers(0, 2))  # all-zero rows: isolated points under the cosine geometry
    x = np.vstack([x, np.zeros((n_zero, dim), dtype=np.float32)])
    n = len(x)
    n_classes = draw(st.integers(1, 3))
    labeled = draw(
        st.lists(st.integers(0, n - 1), min_size=n_classes, max_size=n_classes, unique=True)
    )
    labels = np.full(n, -1)
    labels[labeled] = np.arange(n_classes)
    return x, labels, n_classes


@pytest.mark.parametrize("method", sorted(PROPAGATORS))
@pytest.mark.filterwarnings("ignore::deeplabelprop.errors.DataWarning")  # degenerate on purpose
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=degenerate_problem())
def test_degenerate_inputs_give_valid_results(method, problem):
    x, labels, n_classes = problem
    r = build(method).run(x, labels, n_classes)
    check_result(r, labels, n_classes)
