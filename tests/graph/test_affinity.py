"""Affinities, symmetrisation and normalisation against their formulas (issue 2)."""

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.graph import (
    adjacency,
    edge_weights,
    knn,
    knn_graph,
    l2_normalize,
    locally_scaled_heat,
    normalize_symmetric,
    symmetrize,
)


def test_power_exp_heat_closed_forms():
    s = np.array([[0.5, -0.2]])
    idx = np.array([[1, 2]])
    assert edge_weights(s, idx, kernel="power", gamma=3) == pytest.approx(np.array([[0.125, 0.0]]))
    assert edge_weights(s, idx, kernel="exp", tau=0.1) == pytest.approx(np.exp(s / 0.1))
    assert edge_weights(s, idx, kernel="heat", sigma=0.5) == pytest.approx(np.exp(-(1 - s) / 0.5))
    with pytest.raises(InputError, match="unknown affinity kernel"):
        edge_weights(s, idx, kernel="cosine")
    with pytest.raises(InputError, match="overflows"):
        edge_weights(np.array([[1.0]]), np.array([[0]]), kernel="exp", tau=1e-4)


def test_local_scaling_against_a_loop():
    x = l2_normalize(np.random.default_rng(0).normal(size=(40, 5)))
    sims, idx = knn(x, 8)
    w = locally_scaled_heat(sims, idx, scale_neighbor=7)
    d = 1 - sims.astype(np.float64)
    for i in range(40):
        for j in range(8):
            jj = idx[i, j]
            expected = np.exp(-max(d[i, j], 0) / np.sqrt(d[i, 6] * d[jj, 6]))
            assert w[i, j] == pytest.approx(expected, rel=1e-6)


def test_adjacency_symmetrize_normalize():
    idx = np.array([[1, 0], [2, 0], [0, 1]])  # row 0 lists itself: dropped
    w = np.array([[2.0, 5.0], [3.0, 0.0], [4.0, 1.0]])
    a = adjacency(idx, w)
    assert a.toarray().tolist() == [[0, 2, 0], [0, 0, 3], [4, 1, 0]]
    s = symmetrize(a, "sum").toarray()
    np.testing.assert_array_equal(s, a.toarray() + a.toarray().T)
    m = symmetrize(a, "max").toarray()
    np.testing.assert_array_equal(m, np.maximum(a.toarray(), a.toarray().T))
    n, deg = normalize_symmetric(symmetrize(a))
    dense = s / np.sqrt(np.outer(s.sum(1), s.sum(1)))
    np.testing.assert_allclose(n.toarray(), dense)
    np.testing.assert_allclose(deg, s.sum(1))


def test_isolated_node_gives_zero_row_not_nan():
    # point 3 is orthogonal to everything: [s]_+^γ = 0 on all its edges
    x = np.array([[1.0, 0, 0], [0.9, 0.1, 0], [0.8, 0.2, 0], [0, 0, 1.0]])
    g = knn_graph(x, 2, kernel="power", gamma=3)
    dense = g.normalized.toarray()
    assert np.isfinite(dense).all()
    assert g.degrees[3] == 0 and not dense[3].any() and not dense[:, 3].any()
    np.testing.assert_allclose(dense, dense.T)
    assert np.all(np.diag(g.weights.toarray()) == 0)  # no self loops
