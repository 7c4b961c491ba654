"""The sharded eigen solver's pieces, in one process (the collectives are then the identity;
tests/propagation/test_sharded.py runs them across processes): Cholesky QR against the
definition of an orthonormal basis of the same span, and the eigenpairs against a dense
eigen-decomposition."""

import numpy as np
import torch

from deeplabelprop.graph import knn_graph, l2_normalize, laplacian_eigenpairs
from deeplabelprop.graph.sharded import sharded_knn_graph
from deeplabelprop.graph.sharded_spectrum import orthonormal, sharded_eigenpairs


def test_cholesky_qr_gives_an_orthonormal_basis_of_the_same_span_for_an_ill_conditioned_block():
    rng = np.random.default_rng(0)
    # columns scaled over 6 orders of magnitude and two of them nearly parallel
    x = rng.normal(size=(2000, 12)) * np.logspace(0, 6, 12)
    x[:, 5] = x[:, 4] / 1e3 * 1e4 + 1e-3 * rng.normal(size=2000)
    q = orthonormal(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(q.T @ q, np.eye(12), atol=1e-8)
    # same span: x is reproduced by its projection on q
    projected = q @ (q.T @ x)
    assert np.abs(projected - x).max() / np.abs(x).max() < 1e-8


def test_sharded_eigenpairs_are_the_dense_eigenpairs():
    rng = np.random.default_rng(1)
    x = l2_normalize((rng.normal(size=(5, 8))[rng.integers(0, 5, 1500)]
                      + 0.5 * rng.normal(size=(1500, 8))).astype(np.float32))  # fmt: skip
    graph = sharded_knn_graph(x, len(x), 10, exact=True, kernel="exp", tau=0.1)
    dense = laplacian_eigenpairs(
        knn_graph(x, 10, exact=True, kernel="exp", tau=0.1).normalized, 20, method="dense"
    )
    found = sharded_eigenpairs(graph, 20, tol=1e-5)
    assert found.converged
    np.testing.assert_allclose(found.eigenvalues, dense.eigenvalues, atol=1e-5)
    # the same invariant subspace: each found vector lies in the span of the dense ones
    overlap = dense.eigenvectors.T @ found.eigenvectors
    np.testing.assert_allclose(np.linalg.norm(overlap[:, :15], axis=0), 1.0, atol=1e-3)
