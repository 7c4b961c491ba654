"""``harmonic`` against the closed form of Zhu et al. (2003): f_u = (D_uu - W_uu)^-1 W_ul Y_l."""

import numpy as np
import pytest
import scipy.sparse as sp

from deeplabelprop import LabelPropagator, propagate
from deeplabelprop.graph import knn_graph
from deeplabelprop.propagation import PROPAGATORS
from deeplabelprop.propagation.harmonic import harmonic_solution


def test_equals_the_dense_solve(moons):
    x, truth, labels = moons
    graph = knn_graph(x, 10, kernel="power", gamma=3.0)
    w = graph.weights.toarray()
    unl, lab = np.flatnonzero(labels < 0), np.flatnonzero(labels >= 0)
    y = np.eye(2)[labels[lab]]
    lap = np.diag(w[unl].sum(1)) - w[np.ix_(unl, unl)]
    expected = np.linalg.solve(lap, w[np.ix_(unl, lab)] @ y)
    f, _, converged, _ = harmonic_solution(graph.weights, labels, 2, max_iter=2000, tol=1e-10)
    assert converged
    np.testing.assert_allclose(f[unl], expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(f[lab], y)
    # the harmonic property: each unlabeled value is the weighted mean of its neighbours'
    np.testing.assert_allclose(f[unl], (w[unl] @ f) / w[unl].sum(1, keepdims=True), atol=1e-8)
    np.testing.assert_allclose(f[unl].sum(1), 1.0, atol=1e-8)  # class distributions


def test_registered_and_accurate_through_every_entry(moons):
    x, truth, labels = moons
    assert PROPAGATORS["harmonic"].weight == "top-probability"
    result = propagate(x, labels, method="harmonic", n_neighbors=10)
    assert (result.labels == truth).mean() > 0.99 and result.converged
    np.testing.assert_allclose(
        result.confidence[labels < 0], result.probabilities[labels < 0].max(1)
    )
    clf = LabelPropagator(method="harmonic").fit(x, labels)
    assert np.array_equal(clf.transduction_, result.labels)


def test_a_point_no_label_reaches_is_uniform_not_nan():
    w = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=float))
    f, *_ = harmonic_solution(w, np.array([0, -1, -1]), 2)
    assert np.array_equal(f, [[1, 0], [1, 0], [0, 0]])
    x = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99]])
    result = propagate(x, np.array([0, -1, 1, -1]), method="harmonic", n_neighbors=1)
    assert np.isfinite(result.probabilities).all() and result.labels.tolist() == [0, 0, 1, 1]


def test_bad_parameters_are_errors():
    from deeplabelprop import InputError, make_propagator

    with pytest.raises(InputError, match="gamma=0 is out of range"):
        make_propagator("harmonic", gamma=0)
