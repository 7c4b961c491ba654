"""A sparse graph matrix on a device as a torch CSR tensor, its nodes in a locality order.

Every graph solver multiplies 𝒲 by an n × c block, and each row of 𝒲 gathers rows of that block
at its neighbours' indices. A kNN graph built in the data's own order scatters those gathers
over the whole block, so they miss the caches once the block outgrows them. Renumbered in
reverse Cuthill-McKee order (George & Liu 1981; SciPy's ``reverse_cuthill_mckee``), neighbours
sit near each other in memory: on 2 CPU cores a product with a float32 block took 2-2.5× less
time at 60k points with 100 columns (Fashion-MNIST PCA-64, k = 10), and 3.5-4.4× less at 1 M
points, where diffusion's calibration became 2.3× faster (benchmarks/RESULTS.md). The order
costs one pass over the graph (25 ms at 60k, 1.3 s at 1 M).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import reverse_cuthill_mckee


def sparse_operator(
    matrix: sp.spmatrix, device: str | torch.device, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """``matrix`` as a torch CSR tensor of ``dtype`` (float64 by default) on ``device``, with
    32-bit indices where they fit (half the memory of 64-bit ones: 0.6 GB less at 10 M points)."""
    m = sp.csr_matrix(matrix)
    index = _index_type(m)
    return _csr_tensor(
        m.indptr.astype(index, copy=False),
        m.indices.astype(index, copy=False),
        m.data.astype(_numpy_type(dtype), copy=False),
        m.shape,
        device,
    )


def _index_type(m: sp.csr_matrix):
    return np.int32 if max(m.nnz, *m.shape) < np.iinfo(np.int32).max else np.int64


def _numpy_type(dtype: torch.dtype):
    return np.float64 if dtype == torch.float64 else np.float32


def _csr_tensor(indptr, indices, data, shape, device) -> torch.Tensor:
    """A torch CSR tensor of the arrays (NumPy's are shared, not copied) on ``device``."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product is what we use
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.as_tensor(indptr),
            torch.as_tensor(indices),
            torch.as_tensor(data),
            size=shape,
            check_invariants=False,  # built by SciPy or by renumbering: sorted, in range
        ).to(device)


def renumbered(matrix: sp.csr_matrix, order: np.ndarray, dtype: torch.dtype):
    """(indptr, indices, data) of P M Pᵀ (row and column ``order[i]`` become ``i``), written
    once in their final types, each row's columns sorted: at 10 M points SciPy's
    ``M[order][:, order]`` would hold two more float64 copies of the graph."""
    n = matrix.shape[0]
    index = _index_type(matrix)
    new_name = np.empty(n, dtype=index)
    new_name[order] = np.arange(n, dtype=index)
    lengths = np.diff(matrix.indptr)[order]
    indptr = np.zeros(n + 1, dtype=index)
    np.cumsum(lengths, out=indptr[1:])
    # position in the old arrays of each entry of the new ones, row by row
    source = np.arange(matrix.nnz, dtype=np.int64)
    source += np.repeat(matrix.indptr[order].astype(np.int64) - indptr[:-1], lengths)
    indices = new_name[matrix.indices[source]]
    data = matrix.data[source].astype(_numpy_type(dtype), copy=False)
    del source
    local = sp.csr_matrix((data, indices, indptr), shape=matrix.shape, copy=False)
    local.has_sorted_indices = False
    local.sort_indices()  # in place
    return local.indptr, local.indices, local.data


def locality_order(matrix: sp.spmatrix) -> np.ndarray:
    """A permutation of the nodes of the symmetric ``matrix`` that puts neighbours near each
    other (reverse Cuthill-McKee): node ``order[i]`` becomes node ``i``."""
    return reverse_cuthill_mckee(sp.csr_matrix(matrix), symmetric_mode=True).astype(np.int64)


@dataclass(frozen=True)
class LocalOperator:
    """𝒲 renumbered by :func:`locality_order` on a device: ``matrix`` is P 𝒲 Pᵀ.

    A solve moves its right-hand side in with :meth:`to_local` and its result out with
    :meth:`from_local`; the arithmetic is the same, only the order of the rows differs.
    """

    matrix: torch.Tensor
    order: torch.Tensor  # row i of the local system is row order[i] of the original

    @classmethod
    def build(
        cls, matrix: sp.spmatrix, device: str | torch.device, dtype: torch.dtype
    ) -> LocalOperator:
        """``matrix`` renumbered and put on ``device`` in ``dtype``."""
        m = sp.csr_matrix(matrix)
        order = locality_order(m)
        local = _csr_tensor(*renumbered(m, order, dtype), m.shape, device)
        return cls(local, torch.from_numpy(order).to(device))

    def as_type(self, dtype: torch.dtype) -> LocalOperator:
        """The same operator with values in ``dtype``, sharing the order and the indices."""
        m = self.matrix
        values = m.values().to(dtype)
        matrix = _csr_tensor(m.crow_indices(), m.col_indices(), values, m.shape, m.device)
        return LocalOperator(matrix, self.order)

    def to_local(self, v: torch.Tensor) -> torch.Tensor:
        """The rows of ``v`` (n, ...) in the local order."""
        return v[self.order]

    def local_rows(self, rows: np.ndarray) -> torch.Tensor:
        """Where the original ``rows`` sit in the local order."""
        inverse = self.from_local(torch.arange(self.order.numel(), device=self.order.device))
        return inverse[torch.as_tensor(rows, device=self.order.device)]

    def from_local(self, v: torch.Tensor) -> torch.Tensor:
        """The rows of a local ``v`` back in the original order."""
        out = torch.empty_like(v)
        out[self.order] = v
        return out
