"""The smallest eigenpairs of L_sym = I - 𝒲 over a :class:`~deeplabelprop.graph.sharded.ShardedGraph`:
the Chebyshev-filtered subspace iteration of :mod:`deeplabelprop.graph.spectrum` with the rows of
the block sharded like the graph's.

Each Chebyshev product sends the halo rows of the block (one exchange per degree); what one
process does with whole columns becomes a sum over processes of small matrices:

* orthonormalisation by Cholesky QR in float64 (Fukaya et al. 2014): the Gram matrix XᵀX
  (block × block) is summed over processes, and the factor applied to each process's rows;
  twice, which makes it as orthogonal as a Householder QR while the block's condition number
  stays below ~10⁸ (columns are scaled to unit norm first, which removes the growth the filter
  gives each column);
* Rayleigh-Ritz on Xᵀ𝒲X, summed the same way, then the same eigen-decomposition on every
  process;
* residual norms and the Lanczos bound's inner products, summed.

The start block is drawn per process (seeded by ``random_state`` and the rank), so the iteration
differs from one process's in its start only; the converged pairs agree to the tolerance.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .. import distributed
from .operator import sparse_operator
from .sharded import ShardedGraph, tensor_device
from .spectrum import Spectrum, chebyshev_filter, lowest_eigenvalue_bound

logger = logging.getLogger(__name__)


def column_norms(x: torch.Tensor) -> torch.Tensor:
    """‖x_j‖ over every process's rows."""
    return distributed.sum_of((x.double() ** 2).sum(dim=0)).sqrt()


def orthonormal(x: torch.Tensor) -> torch.Tensor:
    """Columns spanning the same space as ``x`` (rows sharded), orthonormal over all rows:
    unit columns, then Cholesky QR twice in float64 (a tiny shift keeps the factorisation
    defined for a nearly rank-deficient block)."""
    q = x.double() / column_norms(x).clamp_min(1e-300)
    for _ in range(2):
        gram = distributed.sum_of(q.T @ q)
        shift = 1e-14 * float(torch.trace(gram))
        factor = torch.linalg.cholesky(gram + shift * torch.eye(len(gram), dtype=gram.dtype))
        q = torch.linalg.solve_triangular(factor.T, q, upper=True, left=False)
    return q.to(x.dtype)


def dot(a: torch.Tensor, b: torch.Tensor) -> float:
    """aᵀb over every process's rows."""
    return float(distributed.sum_of((a.double() * b.double()).sum().reshape(1))[0])


def rayleigh_ritz(x: torch.Tensor, times):
    """(Ritz vectors, Ritz values descending, residual norms ‖𝒲x - θx‖) of the orthonormal
    block ``x`` (rows sharded); ``times(v)`` is 𝒲v on this process's rows."""
    wx = times(x)
    theta, rot = torch.linalg.eigh(distributed.sum_of(x.T @ wx).double())
    theta, rot = theta.flip(0).to(x.dtype), rot.flip(1).to(x.dtype)
    x, wx = x @ rot, wx @ rot
    return x, theta, column_norms(wx - x * theta).cpu()


def sharded_eigenpairs(
    graph: ShardedGraph,
    n_components: int,
    *,
    tol: float = 2e-3,
    max_iter: int = 30,
    oversampling: int | None = None,
    degree: int = 12,
    random_state: int = 0,
) -> Spectrum:
    """The ``n_components`` smallest eigenpairs of I - 𝒲; ``eigenvectors`` holds this
    process's rows (see the module docstring)."""
    n = graph.n_samples
    device = tensor_device()
    w = sparse_operator(graph.normalized, device, torch.float32)
    block = min(n - 1, n_components + (oversampling or max(16, math.ceil(0.15 * n_components))))
    gen = torch.Generator().manual_seed(int(random_state) * 7919 + distributed.rank())
    rows = graph.rows.stop - graph.rows.start
    x = orthonormal(torch.randn(rows, block, generator=gen).to(device))

    def times(v: torch.Tensor) -> torch.Tensor:
        return w @ graph.with_halo(v)

    low = lowest_eigenvalue_bound(times, torch.randn(rows, 1, generator=gen).to(device), dot)
    theta = torch.linalg.eigvalsh(distributed.sum_of(x.T @ times(x)))
    cut = float(theta.median())
    n_locked, converged, residual = 0, False, torch.full((block,), float("inf"))
    it = 0
    for it in range(1, max_iter + 1):
        filtered = chebyshev_filter(
            w, x[:, n_locked:], degree + (4 if it == 1 else 0), low, cut, graph.with_halo
        )
        x, theta, residual = rayleigh_ritz(
            orthonormal(torch.cat([x[:, :n_locked], filtered], 1)), times
        )
        cut = float(theta[-1])
        ok = (residual < tol).numpy()
        n_locked = block if ok.all() else int(np.argmin(ok))
        done, worst = int(ok[:n_components].sum()), float(residual[:n_components].max())
        logger.info("eigenpairs: iteration %d, %d/%d converged, max residual %.2e", it, done,
                    n_components, worst)  # fmt: skip
        if ok[:n_components].all():
            converged = True
            break
    if not converged:
        warnings.warn(
            f"eigenpairs did not reach tol={tol} in {max_iter} iterations (max residual "
            f"{float(residual[:n_components].max()):.2e}); raise max_iter or degree",
            ConvergenceWarning,
            stacklevel=2,
        )
    vecs = x[:, :n_components].cpu().double().numpy()
    theta_np = theta[:n_components].cpu().double().numpy()
    return Spectrum(1.0 - theta_np, vecs, it, converged, float(residual[:n_components].max()))
