"""Spectral vote against dense W' of DMT eq. (6) and a loop over eq. (5) (issue 2)."""

import numpy as np
import pytest

from deeplabelprop import propagate
from deeplabelprop.graph import knn_graph, laplacian_eigenpairs
from deeplabelprop.propagation import spectral_basis, spectral_vote


def dense_w_prime(graph, eta, f):
    lam, vec = np.linalg.eigh(np.eye(graph.normalized.shape[0]) - graph.normalized.toarray())
    # j = 2..η of eq. (6): skip the trivial eigenvector (connected graph: exactly one λ = 0)
    return sum(f(lam[j]) * np.outer(vec[:, j], vec[:, j]) for j in range(1, eta))


@pytest.mark.parametrize(
    "name, f", [("inverse", lambda l: 1 / l), ("diffusion", lambda l: 1 / (1 - 0.99 + 0.99 * l))]
)
def test_vote_equals_dense_formula(name, f):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    truth = (x[:, 0] > 0).astype(int)
    labels = np.full(300, -1)
    labels[np.flatnonzero(truth == 0)[:4]] = 0  # classes of unequal size test the 1/n_c
    labels[np.flatnonzero(truth == 1)[:2]] = 1
    g = knn_graph(x, 10, kernel="exp", tau=0.1)
    eta = 30
    spectrum = laplacian_eigenpairs(g.normalized, eta, method="dense")
    assert spectrum.eigenvalues[1] > 1e-6  # connected
    basis, w = spectral_basis(spectrum, g.degrees, spectral_filter=name)
    z = spectral_vote(basis, w, labels, 2)
    wp = dense_w_prime(g, eta, f)
    expected = np.column_stack(
        [wp[:, labels == c].mean(axis=1) for c in range(2)]
    )  # eq. (5) with W'
    np.testing.assert_allclose(z, expected, atol=1e-8 * np.abs(expected).max())


def test_spectral_propagator_on_blobs(blobs):
    x, truth, labels = blobs
    r = propagate(x, labels, "spectral", calibration="none", n_neighbors=10, n_components=20)
    assert (r.labels == truth).mean() > 0.95
    assert r.info["eigenvalues"].shape == (20,)


@pytest.mark.parametrize("spectral_filter", ["inverse", "diffusion"])
def test_disconnected_graph_votes_by_component(spectral_filter):
    rng = np.random.default_rng(0)
    x = np.vstack(
        [rng.normal(size=(40, 3)) * 0.01 + [1, 0, 0], rng.normal(size=(40, 3)) * 0.01 + [0, 1, 0]]
    )
    labels = np.full(80, -1)
    labels[0], labels[40] = 0, 1
    r = propagate(
        x,
        labels,
        "spectral",
        calibration="none",
        n_neighbors=5,
        n_components=10,
        spectral_filter=spectral_filter,
    )
    assert np.isfinite(r.scores).all()
    assert (r.labels[:40] == 0).all() and (r.labels[40:] == 1).all()
