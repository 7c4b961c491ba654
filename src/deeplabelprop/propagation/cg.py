"""Conjugate gradient for several right-hand sides at once (one independent CG per column), in
torch on the device the data are on (CPU or CUDA).

The graph methods solve with a sparse matrix put on a device as a torch CSR tensor
(:mod:`deeplabelprop.graph.operator`; on 2 CPU cores its product with an n × c block is 1.6x
faster than SciPy's at 60k points, and more in locality order; benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


def conjugate_gradient(
    matvec: Callable,
    b,
    *,
    max_iter: int = 20,
    tol: float = 1e-6,
    dtype: torch.dtype = torch.float64,
    reduce: Callable | None = None,
    rows: torch.Tensor | None = None,
):
    """Solve A X = B for symmetric positive-definite A, column by column, in lock step.

    Each column runs textbook CG (Hestenes & Stiefel) from X = 0; all columns share the one
    product A @ P per iteration, which is a sparse matrix times an (n × c) block. A column stops
    updating once ‖r‖ ≤ tol · ‖b‖ (a zero column is solved by 0 at once). ``b`` is a NumPy
    array (``matvec`` then takes and returns NumPy arrays) or a torch tensor on any device
    (``matvec`` on tensors there); the iteration runs in torch, in ``dtype`` (float64; float32
    for held-out solves, which need the main solve's precision, not more), where ``b`` is.
    ``tol=0`` runs exactly ``max_iter`` iterations. ``reduce``: when the rows of ``b`` are one
    process's share of the system (``matvec`` exchanging what it needs), the sum over processes
    of each column sum (:func:`~deeplabelprop.distributed.sum_of`), so that every process takes
    the same steps. ``rows``: keep and return only these rows of X (a tensor of row indices on
    the device of ``b``); the iteration itself is unchanged, but the one n × c update of X per
    iteration shrinks to those rows (the held-out solves read only the held-out rows).

    Returns
    -------
    x : array or tensor of the shape and kind of ``b`` (its ``rows`` only, when given)
    n_iter : int            iterations run (products with A)
    converged : bool        every column reached the tolerance
    relative_residual : ndarray of shape (c,)
    """
    if isinstance(b, torch.Tensor):
        return _cg(matvec, b.to(dtype), max_iter, tol, reduce or _local, rows)

    def on_tensors(v: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(np.asarray(matvec(v.numpy())), dtype=dtype)

    x, n_iter, converged, rel = _cg(
        on_tensors, torch.from_numpy(np.asarray(b)).to(dtype), max_iter, tol, reduce or _local, rows
    )
    return x.numpy(), n_iter, converged, rel


def _local(sums: torch.Tensor) -> torch.Tensor:
    return sums


def _cg(matvec, b: torch.Tensor, max_iter: int, tol: float, reduce: Callable, rows=None):
    squeeze = b.ndim == 1
    if squeeze:
        b = b[:, None]
    x = torch.zeros_like(b) if rows is None else b.new_zeros((len(rows), b.shape[1]))
    r = b.clone()
    p = r.clone()
    # every n × c temporary is allocated once: at 60k × 32 columns a fresh one per operation
    # (page faults on first touch) cost as much as the arithmetic on it
    ap, tmp = torch.empty_like(b), torch.empty_like(b)
    into = (
        matvec.into if isinstance(matvec, ShiftedOperator) else lambda v, out: out.copy_(matvec(v))
    )

    def dot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return reduce(torch.mul(u, v, out=tmp).sum(dim=0))

    b_norm = dot(b, b).sqrt()
    rs = dot(r, r)
    target = (tol * b_norm) ** 2
    active = rs > target
    n_iter = 0
    zero = torch.zeros_like(rs)
    # the stopping test reads one flag from the device per iteration
    while n_iter < max_iter and bool(active.any()):
        into(p, ap)
        n_iter += 1
        pap = dot(p, ap)
        ok = active & (pap > 0)
        step = torch.where(ok, rs / torch.where(ok, pap, 1.0), zero)
        x.addcmul_(p if rows is None else p[rows], step)
        r.addcmul_(ap, step, value=-1.0)
        rs_new = dot(r, r)
        ok = active & (rs > 0)
        beta = torch.where(ok, rs_new / torch.where(ok, rs, 1.0), zero)
        torch.addcmul(r, p, beta, out=p)  # p = r + β p
        rs = torch.where(active, rs_new, rs)
        active &= rs > target
    rel = (rs.sqrt() / torch.where(b_norm > 0, b_norm, 1.0)).cpu().numpy()
    if squeeze:
        x = x[:, 0]
    return x, n_iter, not bool(active.any()), rel


@dataclass(frozen=True)
class ShiftedOperator:
    """v ↦ v - α·M v (times ``expand(v)`` where the rows are one process's share and the
    product needs its neighbours' rows too) in one fused sparse product (``torch.addmm``):
    half the time of computing M v and subtracting it; :meth:`into` writes into a kept block."""

    matrix: torch.Tensor
    alpha: float
    expand: Callable | None = None

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        return self.into(v, None)

    def into(self, v: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
        """The product written into ``out`` (a new tensor when None)."""
        w = self.expand(v) if self.expand else v
        return torch.addmm(v, self.matrix, w, beta=1.0, alpha=-self.alpha, out=out)
