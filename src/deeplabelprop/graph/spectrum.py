"""The smallest eigenpairs of the normalised Laplacian L_sym = I - 𝒲, fast.

DMT eq. (6) needs the η ≈ 200 smallest eigenpairs of L_sym on graphs of 50k+ nodes. The
reference ``eigsh(which='SM')`` takes ~50 s (float64) at 60k nodes on 2 cores. Here the
largest eigenpairs of 𝒲 are computed instead (same vectors, λ = 1 - θ) by
**Chebyshev-filtered subspace iteration** (Zhou & Saad, 2007): a block of η + p vectors is
multiplied by a Chebyshev polynomial of 𝒲 that damps the unwanted interval [a, cut] and
amplifies the wanted top of the spectrum, then orthonormalised and Rayleigh-Ritz rotated.
It is all block sparse-times-dense and dense BLAS-3 products in float32 torch, on CPU or CUDA.
Before iterating, nodes are put in reverse Cuthill-McKee order, which makes each sparse product
~2.5× faster on CPU through memory locality. Converged leading vectors are locked (no more
filtering). ``method="eigsh"`` (ARPACK, float64) and ``method="dense"`` are kept as oracles.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import eigsh
from sklearn.exceptions import ConvergenceWarning

from ..errors import InputError
from .operator import LocalOperator

logger = logging.getLogger(__name__)

EIGEN_METHODS = ("auto", "chebyshev", "eigsh", "dense")
DENSE_MAX_SAMPLES = 3000


@dataclass(frozen=True)
class Spectrum:
    """Eigenpairs of L_sym = I - 𝒲 in ascending order of eigenvalue.

    eigenvalues : ndarray of shape (n_components,)
    eigenvectors : ndarray of shape (n_samples, n_components), orthonormal columns
    n_iter : int                 outer iterations (1 for a direct solve)
    converged : bool
    max_residual : float         max ‖𝒲e - (1-λ)e‖ over the returned pairs
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    n_iter: int
    converged: bool
    max_residual: float


def laplacian_eigenpairs(
    normalized: sp.spmatrix,
    n_components: int,
    *,
    method: str = "auto",
    tol: float = 2e-3,
    max_iter: int = 30,
    oversampling: int | None = None,
    degree: int = 12,
    device: str | None = None,
    random_state: int = 0,
) -> Spectrum:
    """The ``n_components`` smallest eigenpairs of I - 𝒲 for a symmetric normalised adjacency 𝒲.

    Parameters
    ----------
    normalized : sparse matrix of shape (n, n)
        𝒲 = D^-½ W D^-½ (symmetric, spectrum in [-1, 1]).
    n_components : int
        η, the number of eigenpairs, ``1 <= η < n``.
    method : {"auto", "chebyshev", "eigsh", "dense"}
        ``auto`` is dense below ``DENSE_MAX_SAMPLES`` nodes, Chebyshev above.
    tol : float
        Residual norm ‖𝒲e - θe‖ at which a pair counts as converged (Chebyshev only).
    """
    n = normalized.shape[0]
    if method not in EIGEN_METHODS:
        raise InputError(
            f"unknown eigen method {method!r}; choose one of {', '.join(EIGEN_METHODS)}"
        )
    if not 1 <= n_components < n:
        raise InputError(
            f"n_components (eta)={n_components} must be between 1 and n_samples - 1 = {n - 1}; "
            "use fewer eigenvectors"
        )
    if method == "auto":
        method = "dense" if n <= DENSE_MAX_SAMPLES else "chebyshev"
    if method == "dense":
        theta, vecs = np.linalg.eigh(normalized.toarray())
        return _as_spectrum(
            theta[::-1][:n_components], vecs[:, ::-1][:, :n_components], normalized, 1, True
        )
    if method == "eigsh":
        theta, vecs = eigsh(sp.csr_matrix(normalized, dtype=np.float64), k=n_components, which="LA")
        order = np.argsort(-theta)
        return _as_spectrum(theta[order], vecs[:, order], normalized, 1, True)
    return _chebyshev_subspace(
        sp.csr_matrix(normalized),
        n_components,
        tol=tol,
        max_iter=max_iter,
        oversampling=oversampling,
        degree=degree,
        device=device or ("cuda" if torch.cuda.is_available() else "cpu"),
        random_state=random_state,
    )


def _as_spectrum(theta, vecs, normalized, n_iter: int, converged: bool) -> Spectrum:
    vecs = np.ascontiguousarray(vecs, dtype=np.float64)
    resid = np.linalg.norm(normalized @ vecs - vecs * theta, axis=0)
    return Spectrum(
        1.0 - np.asarray(theta, dtype=np.float64), vecs, n_iter, converged, float(resid.max())
    )


#: columns of the dense block per sparse product on a CPU. A row of 𝒲 gathers rows of the
#: block at random: once the block outgrows the caches (n × 230 floats is 184 MB at n = 200k)
#: every gather misses, and a product over the whole block cost 0.56 s at 200k against 0.19 s
#: in 64-column slices (0.057 vs 0.049 s at 60k): per nonzero the same at both sizes, so the
#: eigenvectors' cost is linear in n again (benchmarks/RESULTS.md, issue 18).
CPU_COLUMNS = 64


def _column_slices(x: torch.Tensor) -> list[torch.Tensor]:
    """``x`` as contiguous slices of CPU_COLUMNS columns on a CPU (whole on a GPU)."""
    if x.device.type != "cpu" or x.shape[1] <= CPU_COLUMNS:
        return [x]
    return [x[:, j : j + CPU_COLUMNS].contiguous() for j in range(0, x.shape[1], CPU_COLUMNS)]


def sparse_times(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """𝒲 x, in column slices on a CPU (:data:`CPU_COLUMNS`)."""
    parts = [w @ part for part in _column_slices(x)]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def chebyshev_filter(
    w: torch.Tensor, x: torch.Tensor, degree: int, low: float, high: float, expand=None
) -> torch.Tensor:
    """T_m((𝒲 - c)/e) x with c, e the centre and half-width of [low, high] (Zhou & Saad, Alg. 3.1).

    Components with eigenvalues in [low, high] stay bounded by 1; those above ``high`` grow
    like cosh(m · acosh(y)). Three-term recurrence, one sparse product per degree; columns are
    independent, so on a CPU each slice of :data:`CPU_COLUMNS` runs the whole recurrence.
    ``expand``: what a product multiplies besides the rows of ``x`` (a sharded graph's halo,
    :meth:`~deeplabelprop.graph.sharded.ShardedGraph.with_halo`); none on one process.
    """
    parts = [_chebyshev_filter(w, part, degree, low, high, expand) for part in _column_slices(x)]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def _chebyshev_filter(
    w: torch.Tensor, x: torch.Tensor, degree: int, low: float, high: float, expand=None
) -> torch.Tensor:
    e = (high - low) / 2.0
    c = (high + low) / 2.0
    expand = expand or (lambda v: v)
    y = torch.addmm(x, w, expand(x), beta=-c / e, alpha=1.0 / e)  # (𝒲 - c) x / e
    prev = x.clone()  # two blocks, overwritten in turn: no n × c block allocated per degree
    for _ in range(2, degree + 1):
        prev.addmm_(w, expand(y), beta=-1.0, alpha=2.0 / e)  # 2(𝒲 - c) y / e - prev
        prev.add_(y, alpha=-2.0 * c / e)
        prev, y = y, prev
    return y


def lowest_eigenvalue_bound(times, v: torch.Tensor, dot, steps: int = 24) -> float:
    """A safe lower end for the filter: Lanczos estimate of λ_min(𝒲) minus its residual and a
    margin, from the start vector ``v``; ``times(v)`` is 𝒲v and ``dot(a, b)`` the inner product
    (summed over processes when the rows are sharded)."""
    v = v / math.sqrt(dot(v, v))
    basis, alphas, betas = [v], [], []
    beta, prev = 0.0, torch.zeros_like(v)
    for _ in range(steps):
        u = times(basis[-1]) - beta * prev
        a = dot(basis[-1], u)
        u -= a * basis[-1]
        for b in basis:  # full re-orthogonalisation: cheap for a few dozen vectors
            u -= dot(b, u) * b
        alphas.append(a)
        beta = math.sqrt(max(dot(u, u), 0.0))
        if beta < 1e-8:
            break
        betas.append(beta)
        prev = basis[-1]
        basis.append(u / beta)
    k = len(alphas)
    t = np.diag(alphas) + np.diag(betas[: k - 1], 1) + np.diag(betas[: k - 1], -1)
    theta, s = np.linalg.eigh(t)
    resid = abs(betas[k - 1] * s[-1, 0]) if len(betas) >= k else 0.0
    return max(-1.0, float(theta[0]) - resid - 0.05)


def _chebyshev_subspace(
    normalized: sp.csr_matrix,
    n_components: int,
    *,
    tol: float,
    max_iter: int,
    oversampling: int | None,
    degree: int,
    device: str,
    random_state: int,
) -> Spectrum:
    n = normalized.shape[0]
    block = min(n - 1, n_components + (oversampling or max(16, math.ceil(0.15 * n_components))))
    op = LocalOperator.build(normalized, device, torch.float32)  # locality for the products
    w = op.matrix
    gen = torch.Generator().manual_seed(random_state)
    x = torch.randn(n, block, generator=gen).to(device)
    x, _ = torch.linalg.qr(x)
    start = torch.randn(n, 1, generator=gen, device="cpu").to(w.device)
    low = lowest_eigenvalue_bound(lambda v: w @ v, start, lambda a, b: float((a * b).sum()))
    theta = torch.linalg.eigvalsh(x.T @ sparse_times(w, x))
    cut = float(theta.median())  # first filter: damp everything below the median Ritz value
    n_locked, converged, residual = 0, False, torch.full((block,), float("inf"))
    it = 0
    for it in range(1, max_iter + 1):
        active = chebyshev_filter(w, x[:, n_locked:], degree + (4 if it == 1 else 0), low, cut)
        x = torch.cat([x[:, :n_locked], active], dim=1)
        x, _ = torch.linalg.qr(x)
        wx = sparse_times(w, x)  # (n, block)
        theta, rot = torch.linalg.eigh(x.T @ wx)  # Rayleigh-Ritz, ascending
        theta, rot = theta.flip(0), rot.flip(1)
        x, wx = x @ rot, wx @ rot
        residual = torch.linalg.norm(wx - x * theta, dim=0).cpu()
        cut = float(theta[-1])
        ok = (residual < tol).numpy()
        n_locked = block if ok.all() else int(np.argmin(ok))
        logger.info(
            "eigenpairs: iteration %d, %d/%d converged, max residual %.2e",
            it,
            int(ok[:n_components].sum()),
            n_components,
            float(residual[:n_components].max()),
        )
        if ok[:n_components].all():
            converged = True
            break
    if not converged:
        warnings.warn(
            f"eigenpairs did not reach tol={tol} in {max_iter} iterations (max residual "
            f"{float(residual[:n_components].max()):.2e}); raise max_iter or degree",
            ConvergenceWarning,
            stacklevel=3,
        )
    vecs = op.from_local(x[:, :n_components]).cpu().double().numpy()
    theta_np = theta[:n_components].cpu().double().numpy()
    return Spectrum(1.0 - theta_np, vecs, it, converged, float(residual[:n_components].max()))
