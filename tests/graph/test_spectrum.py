"""Eigenpairs of the normalised Laplacian: Chebyshev subspace iteration against eigh/eigsh (issue 2)."""

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from deeplabelprop import InputError
from deeplabelprop.graph import knn_graph, laplacian_eigenpairs


@pytest.fixture(scope="module")
def graph():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(12, 16))
    x = centers[rng.integers(0, 12, 2500)] + 0.5 * rng.normal(size=(2500, 16))
    return knn_graph(x, 10, kernel="exp", tau=0.1)


def test_chebyshev_agrees_with_dense_and_eigsh(graph):
    assert connected_components(graph.weights)[0] > 1  # also covers a repeated eigenvalue 0
    dense = laplacian_eigenpairs(graph.normalized, 60, method="dense")
    arpack = laplacian_eigenpairs(graph.normalized, 60, method="eigsh")
    cheb = laplacian_eigenpairs(graph.normalized, 60, method="chebyshev", tol=1e-4)
    assert cheb.converged and cheb.n_iter >= 1
    np.testing.assert_allclose(arpack.eigenvalues, dense.eigenvalues, atol=1e-8)
    np.testing.assert_allclose(cheb.eigenvalues, dense.eigenvalues, atol=1e-5)
    assert np.all(np.diff(cheb.eigenvalues) >= -1e-7)  # ascending
    # same invariant subspace: the singular values of E_chebᵀ E_dense are the cosines of its angles
    cos = np.linalg.svd(cheb.eigenvectors.T @ dense.eigenvectors, compute_uv=False)
    assert cos.min() > 0.999
    assert cheb.max_residual < 1e-4
    np.testing.assert_allclose(cheb.eigenvectors.T @ cheb.eigenvectors, np.eye(60), atol=1e-5)


def test_smallest_eigenvalue_is_zero_for_connected_graph():
    rng = np.random.default_rng(1)
    graph = knn_graph(rng.normal(size=(3000, 8)), 10, kernel="exp", tau=0.1)
    assert connected_components(graph.weights)[0] == 1
    s = laplacian_eigenpairs(graph.normalized, 3, method="chebyshev", tol=1e-5)
    assert s.eigenvalues[0] == pytest.approx(0.0, abs=1e-5)
    trivial = np.sqrt(graph.degrees) / np.linalg.norm(np.sqrt(graph.degrees))
    assert abs(trivial @ s.eigenvectors[:, 0]) == pytest.approx(1.0, abs=1e-4)


def test_not_converged_warns(graph):
    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="raise max_iter"):
        s = laplacian_eigenpairs(graph.normalized, 60, method="chebyshev", max_iter=1, tol=1e-9)
    assert not s.converged


def test_bad_component_count(graph):
    with pytest.raises(InputError, match="n_components"):
        laplacian_eigenpairs(graph.normalized, graph.normalized.shape[0])
    with pytest.raises(InputError, match="unknown eigen method"):
        laplacian_eigenpairs(graph.normalized, 3, method="lobpcg")
