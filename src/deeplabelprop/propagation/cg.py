"""Conjugate gradient for several right-hand sides at once (one independent CG per column)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def conjugate_gradient(
    matvec: Callable[[np.ndarray], np.ndarray],
    b: np.ndarray,
    *,
    max_iter: int = 20,
    tol: float = 1e-6,
) -> tuple[np.ndarray, int, bool, np.ndarray]:
    """Solve A X = B for symmetric positive-definite A, column by column, in lock step.

    Each column runs textbook CG (Hestenes & Stiefel) from X = 0; all columns share the one
    product A @ P per iteration, which is a sparse matrix times an (n × c) block. A column stops
    updating once ‖r‖ ≤ tol · ‖b‖ (a zero column is solved by 0 at once).

    Returns
    -------
    x : ndarray of shape b.shape
    n_iter : int            iterations run (products with A)
    converged : bool        every column reached the tolerance
    relative_residual : ndarray of shape (c,)
    """
    b = np.asarray(b, dtype=np.float64)
    squeeze = b.ndim == 1
    if squeeze:
        b = b[:, None]
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    b_norm = np.linalg.norm(b, axis=0)
    rs = np.einsum("ij,ij->j", r, r)
    target = (tol * b_norm) ** 2
    active = rs > target
    n_iter = 0
    while active.any() and n_iter < max_iter:
        ap = matvec(p)
        n_iter += 1
        pap = np.einsum("ij,ij->j", p, ap)
        step = np.divide(rs, pap, out=np.zeros_like(rs), where=active & (pap > 0))
        x += p * step
        r -= ap * step
        rs_new = np.einsum("ij,ij->j", r, r)
        beta = np.divide(rs_new, rs, out=np.zeros_like(rs), where=active & (rs > 0))
        p = r + p * beta
        rs = np.where(active, rs_new, rs)
        active &= rs > target
    rel = np.sqrt(rs) / np.where(b_norm > 0, b_norm, 1.0)
    if squeeze:
        x = x[:, 0]
    return x, n_iter, not active.any(), rel
