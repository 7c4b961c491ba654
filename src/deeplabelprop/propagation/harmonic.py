"""``harmonic``: Gaussian fields and harmonic functions (Zhu, Ghahramani & Lafferty 2003).

The labels are clamped and every unlabeled point takes the weighted mean of its neighbours'
class distributions: f_u = D_uu^-1 W_u· f, i.e. (D_uu - W_uu) f_u = W_ul Y_l (their eq. 5),
solved by conjugate gradient on the symmetrically scaled system. scikit-learn's
``LabelPropagation`` computes the same fixed point on a dense matrix; here the graph is a sparse
kNN graph (Iscen's a_ij = [v_iᵀv_j]_+^γ), so memory is O(n·k).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch

from .._params import Interval, Options
from ..graph import BACKENDS
from ..graph.knn import default_device
from ..graph.operator import sparse_operator
from .base import GraphPropagator, Prepared, label_matrix, stage
from .cg import ShiftedOperator, conjugate_gradient
from .registry import register_propagator
from .result import PropagationResult, finalize, normalize_rows
from .weights import example_weights


def harmonic_solution(
    weights: sp.spmatrix,
    labels: np.ndarray,
    n_classes: int,
    *,
    max_iter: int = 500,
    tol: float = 1e-4,
    device: str | None = None,
) -> tuple[np.ndarray, int, bool, np.ndarray]:
    """f (n, c): Y on labeled rows; on unlabeled rows the solution of (D_uu - W_uu) f_u = W_ul Y_l,
    by CG on ``device`` (default: the GPU when there is one).

    Solved as (I - S) g = D_uu^-½ W_ul Y_l with S = D_uu^-½ W_uu D_uu^-½ and f_u = D_uu^-½ g
    (Jacobi scaling); an unlabeled point with no edge gets f = 0. Returns (f, n_iter, converged,
    relative residual per class).
    """
    w = sp.csr_matrix(weights)
    unl, lab = np.flatnonzero(labels < 0), np.flatnonzero(labels >= 0)
    y = label_matrix(labels, n_classes, normalize=False)
    f = y.copy()
    if unl.size == 0:  # nothing to solve: one step, scikit-learn's convention for n_iter_
        return f, 1, True, np.zeros(n_classes)
    degree = np.asarray(w[unl].sum(axis=1)).ravel()
    scale = np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)
    s = sp.diags(scale) @ w[unl][:, unl] @ sp.diags(scale)
    rhs = scale[:, None] * (w[unl][:, lab] @ y[lab])
    device = device or default_device()
    s_op = sparse_operator(s, device)
    g, n_iter, converged, resid = conjugate_gradient(
        ShiftedOperator(s_op, 1.0), torch.from_numpy(rhs).to(device), max_iter=max_iter, tol=tol
    )
    f[unl] = scale[:, None] * g.cpu().numpy()
    return f, n_iter, converged, resid


@register_propagator
@dataclass
class Harmonic(GraphPropagator):
    """Harmonic functions on a kNN graph (Zhu, Ghahramani & Lafferty 2003): labels clamped,
    every unlabeled point the weighted mean of its neighbours; confidence p_y.

    Graph as ``diffusion``'s: ℓ2-normalised features, k neighbours, a_ij = [v_iᵀv_j]_+^γ,
    W = A + Aᵀ. The rows of f are class distributions (they sum to 1 wherever a label reaches).
    """

    n_neighbors: int = 10
    gamma: float = 3.0
    max_iter: int = 500
    tol: float = 1e-4
    backend: str = "auto"
    exact: bool | None = None
    device: str | None = None
    random_state: int = 0

    name: ClassVar[str] = "harmonic"
    weight: ClassVar[str] = "top-probability"
    calibration: ClassVar[str] = "temperature"  # measured best (propagation/calibration.py)
    solve_only: ClassVar[tuple] = ("max_iter", "tol")
    constraints: ClassVar[dict] = {
        "n_neighbors": Interval(1, None, integer=True),
        "gamma": Interval(0, None, closed="neither"),
        "max_iter": Interval(1, None, integer=True),
        "tol": Interval(0, None, closed="neither"),
        "backend": Options(BACKENDS),
        "exact": Options((None, True, False)),
        "random_state": Interval(0, None, integer=True),
    }

    def solve(self, prepared: Prepared, y: np.ndarray, c: int) -> PropagationResult:
        """The harmonic function of labels ``y`` on the prepared graph."""
        timings = dict(prepared.timings)
        with stage(timings, "propagate"):
            f, n_iter, converged, resid = harmonic_solution(
                prepared.data["graph"].weights,
                y,
                c,
                max_iter=self.max_iter,
                tol=self.tol,
                device=self.device,
            )
            probabilities = normalize_rows(f)
            weights = example_weights(self.weight, probabilities, y >= 0)
        self.warn_unconverged(converged, resid)
        return finalize(
            y,
            f,
            probabilities,
            weights,
            weight_name=self.weight,
            n_iter=n_iter,
            converged=converged,
            timings=timings,
            info={**prepared.info, "cg_relative_residual": float(resid.max())},
        )
