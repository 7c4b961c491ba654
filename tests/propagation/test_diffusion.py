"""Diffusion by CG against a direct sparse solve (issue 2)."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from sklearn.exceptions import ConvergenceWarning

from deeplabelprop import propagate
from deeplabelprop.graph import knn_graph
from deeplabelprop.propagation import conjugate_gradient, diffuse, label_matrix


def test_cg_matches_direct_solve_per_column():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(30, 30))
    a = m @ m.T + 30 * np.eye(30)  # SPD
    b = rng.normal(size=(30, 4))
    b[:, 2] = 0.0  # a zero column is solved by 0
    x, n_iter, converged, resid = conjugate_gradient(lambda v: a @ v, b, max_iter=200, tol=1e-12)
    assert converged and n_iter <= 31
    np.testing.assert_allclose(x, np.linalg.solve(a, b), atol=1e-9)
    assert resid[2] == 0 and (x[:, 2] == 0).all()


def test_diffuse_equals_spsolve(blobs):
    x, _, labels = blobs
    g = knn_graph(x, 10)
    y = label_matrix(labels, 3)
    z, _, converged, _ = diffuse(g.normalized, y, alpha=0.9, max_iter=500, tol=1e-12)
    a = sp.identity(len(x), format="csc") - 0.9 * g.normalized.tocsc()
    expected = np.column_stack([spsolve(a, y[:, c]) for c in range(3)])
    assert converged
    np.testing.assert_allclose(z, expected, atol=1e-10)


def test_diffuse_at_some_rows_equals_spsolve_at_those_rows(blobs):
    # the held-out solves keep their iterate at the held-out rows only; on a kept graph those
    # rows are looked up in its locality order
    x, _, labels = blobs
    g = knn_graph(x, 10)
    y = label_matrix(labels, 3)
    rows = np.random.default_rng(1).choice(len(x), 17, replace=False)
    a = sp.identity(len(x), format="csc") - 0.9 * g.normalized.tocsc()
    expected = np.column_stack([spsolve(a, y[:, c]) for c in range(3)])[rows]
    for graph in (g, g.normalized):
        z, _, converged, _ = diffuse(graph, y, alpha=0.9, max_iter=500, tol=1e-12, rows=rows)
        assert converged and z.shape == (17, 3)
        np.testing.assert_allclose(z, expected, atol=1e-10)
    # a fixed number of iterations, as the held-out solves run: the same rows of the same iterate
    full, *_ = diffuse(g, y, alpha=0.9, max_iter=7, tol=0.0)
    some, *_ = diffuse(g, y, alpha=0.9, max_iter=7, tol=0.0, rows=rows)
    np.testing.assert_allclose(some, full[rows], rtol=1e-12, atol=1e-15)


def test_label_matrix_is_class_normalised():
    y = label_matrix(np.array([0, 0, 1, -1]), 2)
    np.testing.assert_allclose(y, [[0.5, 0], [0.5, 0], [0, 1], [0, 0]])
    np.testing.assert_allclose(
        label_matrix(np.array([0, 0, 1, -1]), 2, normalize=False).sum(0), [2, 1]
    )


def test_diffusion_scores_are_clipped_exact_solution(blobs):
    x, truth, labels = blobs
    r = propagate(
        x,
        labels,
        "diffusion",
        calibration="none",
        n_neighbors=10,
        alpha=0.99,
        max_iter=1000,
        tol=1e-12,
    )
    g = knn_graph(x, 10)
    a = sp.identity(len(x), format="csc") - 0.99 * g.normalized.tocsc()
    y = label_matrix(labels, 3)
    expected = np.clip(np.column_stack([spsolve(a, y[:, c]) for c in range(3)]), 0, None)
    np.testing.assert_allclose(r.scores, expected, atol=1e-9)
    assert r.converged
    assert (r.labels[labels < 0] == truth[labels < 0]).mean() > 0.98


def test_two_moons_follow_the_manifold(moons):
    x, truth, labels = moons
    r = propagate(x, labels, "diffusion", calibration="none", n_neighbors=10)
    assert (r.labels == truth).mean() > 0.95


def test_paper_truncation_warns_when_not_converged(blobs):
    x, _, labels = blobs
    with pytest.warns(ConvergenceWarning, match="raise max_iter"):
        r = propagate(
            x, labels, "diffusion", calibration="none", n_neighbors=10, max_iter=1, tol=1e-9
        )
    assert not r.converged and r.n_iter == 1
