"""𝒲 on a device in locality order (graph/operator.py): the same products, neighbours near
each other."""

import numpy as np
import scipy.sparse as sp
import torch

from deeplabelprop.graph import knn_graph
from deeplabelprop.graph.operator import LocalOperator, locality_order, renumbered, sparse_operator


def shuffled_path(n: int, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """A path graph 0-1-2-...-(n-1) with its nodes renamed at random."""
    names = np.random.default_rng(seed).permutation(n)
    a = sp.coo_matrix((np.ones(n - 1), (names[:-1], names[1:])), shape=(n, n))
    return (a + a.T).tocsr(), names


def bandwidth(m: sp.spmatrix) -> int:
    c = m.tocoo()
    return int(np.abs(c.row - c.col).max())


def test_the_order_puts_a_shuffled_path_back_in_a_band():
    w, _ = shuffled_path(2000)
    order = locality_order(w)
    assert sorted(order.tolist()) == list(range(2000))  # a permutation
    assert bandwidth(w) > 1000
    assert bandwidth(w[order][:, order]) == 1  # the path, in path order (either direction)


def test_local_products_equal_the_original_ones():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 8)).astype(np.float32)
    g = knn_graph(x, 6)
    v = torch.from_numpy(rng.normal(size=(500, 3)))
    for dtype in (torch.float64, torch.float32):
        op = g.operator("cpu", dtype)
        local = op.from_local(op.matrix @ op.to_local(v.to(dtype)))
        expected = g.normalized @ v.numpy()
        np.testing.assert_allclose(local.numpy(), expected, rtol=1e-5, atol=1e-6)
        assert torch.equal(op.from_local(op.to_local(v.to(dtype))), v.to(dtype))
    # one order and one set of indices per device; 32-bit indices where they fit
    a, b = g.operator("cpu", torch.float64), g.operator("cpu", torch.float32)
    assert a.matrix.col_indices().data_ptr() == b.matrix.col_indices().data_ptr()
    assert a.matrix.col_indices().dtype == torch.int32
    assert g.operator("cpu", torch.float64) is a  # kept


def test_sparse_operator_is_the_matrix():
    w, _ = shuffled_path(50)
    t = sparse_operator(w, "cpu", torch.float64)
    np.testing.assert_array_equal(t.to_dense().numpy(), w.toarray())
    built = LocalOperator.build(w, "cpu", torch.float64)
    order = built.order.numpy()
    np.testing.assert_array_equal(built.matrix.to_dense().numpy(), w[order][:, order].toarray())


def test_renumbering_equals_scipys_permutation():
    rng = np.random.default_rng(3)
    m = sp.random(300, 300, density=0.05, random_state=4, format="csr")
    m = (m + m.T).tocsr()
    order = rng.permutation(300)
    indptr, indices, data = renumbered(m, order, torch.float32)
    assert indptr.dtype == indices.dtype == np.int32 and data.dtype == np.float32
    got = sp.csr_matrix((data, indices, indptr), shape=m.shape)
    np.testing.assert_allclose(got.toarray(), m[order][:, order].toarray(), rtol=1e-6)
    for i in range(300):  # each row's columns sorted
        row = indices[indptr[i] : indptr[i + 1]]
        assert (np.diff(row) > 0).all()
