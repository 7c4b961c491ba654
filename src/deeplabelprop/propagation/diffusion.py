"""``diffusion``: Zhou et al. (2004) label spreading solved by CG on a kNN graph (Iscen §4)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch

from .. import distributed
from .._params import Interval, Options
from ..graph import BACKENDS, Graph
from ..graph.knn import default_device
from ..graph.operator import LocalOperator
from ..graph.sharded import ShardedGraph, summed, tensor_device
from .base import GraphPropagator, Prepared, label_matrix, stage
from .cg import ShiftedOperator, conjugate_gradient
from .registry import register_propagator
from .result import PropagationResult, finalize, normalize_rows
from .weights import example_weights

logger = logging.getLogger(__name__)

# held-out solves run in blocks of columns of at most this many bytes per CG vector (float32)
FOLD_BLOCK_BYTES = 256 * 2**20
# ... and, on a CPU, of at most this many columns: a row of 𝒲 gathers rows of the block at
# random, and narrow blocks keep those gathers in cache (60k points, 100 columns × 19
# iterations: 1.2 s in one block of 100, 0.6-0.7 s in blocks of 32-50; benchmarks/RESULTS.md)
FOLD_CPU_COLUMNS = 32


def diffuse(
    graph: Graph | ShardedGraph | LocalOperator | sp.spmatrix,
    y: np.ndarray,
    *,
    alpha: float = 0.99,
    max_iter: int = 20,
    tol: float = 1e-3,
    device: str | None = None,
    dtype: torch.dtype = torch.float64,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, int, bool, np.ndarray]:
    """Iscen eq. (10): solve (I - α𝒲) Z = Y by conjugate gradient on ``device`` (default: the
    GPU when there is one), in ``dtype``.

    I - α𝒲 is symmetric positive definite for α in [0, 1) because 𝒲's spectrum lies in [-1, 1].
    ``graph``: a :class:`~deeplabelprop.graph.Graph` (its 𝒲 in locality order, kept between
    solves), that operator itself, or 𝒲 as a sparse matrix. On a
    :class:`~deeplabelprop.graph.sharded.ShardedGraph`, ``y`` and Z are this process's rows and
    every process runs the same iterations (halo exchanges, summed column sums).
    ``rows``: return Z at these (global) rows only, the same array on every process; the CG
    then keeps its iterate at them alone (the held-out solves).
    Returns (Z, n_iter, converged, relative residual per class).
    """
    b = torch.from_numpy(np.asarray(y))
    keep = None
    if isinstance(graph, ShardedGraph):  # this process's rows; neighbours' rows by exchange
        device = tensor_device()
        w = graph.operator(device, dtype)
        matvec, reduce = ShiftedOperator(w, alpha, graph.with_halo), distributed.sum_of
        inward = outward = lambda v: v  # noqa: E731
        if rows is not None:
            mine = (rows >= graph.rows.start) & (rows < graph.rows.stop)
            keep = torch.as_tensor(rows[mine] - graph.rows.start, device=device)
    else:
        device = device or default_device()
        if isinstance(graph, LocalOperator):
            op = graph
        elif isinstance(graph, Graph):
            op = graph.operator(device, dtype)
        else:
            op = LocalOperator.build(graph, device, dtype)
        matvec, reduce = ShiftedOperator(op.matrix, alpha), None
        inward, outward = op.to_local, op.from_local
        if rows is not None:
            keep, outward = op.local_rows(rows), lambda v: v  # noqa: E731
    z, n_iter, converged, rel = conjugate_gradient(
        matvec,
        inward(b.to(device=device, dtype=dtype)),
        max_iter=max_iter,
        tol=tol,
        dtype=dtype,
        reduce=reduce,
        rows=keep,
    )
    z = outward(z).cpu().numpy()
    if isinstance(graph, ShardedGraph) and rows is not None:
        at = np.zeros((len(rows), z.shape[1]), dtype=z.dtype)
        at[mine] = z
        z = summed(at)
    return z, n_iter, converged, rel


def _rows(graph, n: int) -> slice:
    """The rows this process solves for: its shard, or all ``n``."""
    return graph.rows if isinstance(graph, ShardedGraph) else slice(0, n)


def fold_columns(labels: np.ndarray, folds: list[np.ndarray], n_classes: int):
    """The right-hand sides the held-out solves need: one column per (fold, class) that the
    fold hides labels of, the kept labels of that class. Every other class of a fold keeps all
    its labels, so its column is the full solve's. Returns [(fold k, class c, kept rows)]."""
    out = []
    for k, fold in enumerate(folds):
        for c in np.unique(labels[fold]):
            kept = np.flatnonzero(labels == c)
            out.append((k, int(c), np.setdiff1d(kept, fold, assume_unique=True)))
    return out


def fitted_alpha(n_labeled: int, n_samples: int) -> float:
    """α = 1 - 0.6·(m/n)^0.6, within [0.8, 0.995]: the default diffusion reach for m labels
    among n points (see :class:`Diffusion`)."""
    return float(np.clip(1.0 - 0.6 * (n_labeled / max(n_samples, 1)) ** 0.6, 0.8, 0.995))


@register_propagator
@dataclass
class Diffusion(GraphPropagator):
    """Label diffusion on a kNN graph (Zhou et al. 2004; Iscen et al. 2019 eq. 9-11).

    Graph: ℓ2-normalised features, k nearest neighbours (k = 10; Iscen: 50), a_ij = [v_iᵀv_j]_+^γ, W = A + Aᵀ,
    𝒲 = D^-½ W D^-½. Labels: Y one-hot, columns divided by class size. Z from CG on
    (I - α𝒲) Z = Y, negative scores clipped at 0, rows normalised to probabilities; the
    training weight is Iscen's entropy weight ω (eq. 11, max-normalised over the unlabeled
    points).

    ``alpha`` left at None is fitted to the labeled share m/n: α = 1 - 0.6·(m/n)^0.6 in
    [0.8, 0.995] (:func:`fitted_alpha`). The diffusion reaches about 1/(1 - α) steps, and the
    denser the labels, the shorter the walk to the nearest one: measured on Fashion-MNIST
    PCA-64 (seeds 200-202), the best α fell from 0.995 at 20 labels to 0.9 at 3,000, and the
    rule then won or tied (within 0.25 points) a fixed 0.99 and 0.95 at every size on data it
    was not fitted on (Fashion-MNIST's test images, scikit-learn's digits; RESULTS.md).
    Iscen's α = 0.99 is one setting away (the lpdssl recipe keeps it); set it where classes
    overlap heavily rather than form clusters (two overlapping Gaussians, 5 % labeled: 83.4 %
    at 0.99 against 80.7 % with the fitted 0.90).

    CG stops at relative residual ``tol`` = 1e-2, which at α = 0.99 takes about the paper's 20
    iterations; pseudo labels then agree with an exact solve to within 0.1 % (RESULTS.md), while
    a looser stop costs accuracy. ``max_iter`` = 50 is a cap: if the residual is still above
    ``tol`` there, a ``ConvergenceWarning`` says so.
    """

    # k = 10 by measurement (benchmarks/RESULTS.md: +1.3 points at 100 labels and +2.9 at 1000 on
    # Fashion-MNIST PCA-64, and on the learned metric, in ~half the time); Iscen's k = 50 was
    # tuned for CIFAR descriptors and is one setting away (the lpdssl recipe keeps it)
    n_neighbors: int = 10
    gamma: float = 3.0
    alpha: float | None = None
    max_iter: int = 50
    tol: float = 1e-2
    normalize_labels: bool = True
    backend: str = "auto"
    exact: bool | None = None
    device: str | None = None
    random_state: int = 0

    name: ClassVar[str] = "diffusion"
    weight: ClassVar[str] = "entropy"  # Iscen eq. (11)
    calibration: ClassVar[str] = "temperature"  # measured best (propagation/calibration.py)
    solve_only: ClassVar[tuple] = ("alpha", "max_iter", "tol", "normalize_labels")
    shards: ClassVar[bool] = True
    constraints: ClassVar[dict] = {
        "n_neighbors": Interval(1, None, integer=True),
        "gamma": Interval(0, None, closed="neither"),
        "alpha": Interval(0, 1, closed="left", allow_none=True),
        "max_iter": Interval(1, None, integer=True),
        "tol": Interval(0, None, closed="neither"),
        "normalize_labels": Options((True, False)),
        "backend": Options(BACKENDS),
        "exact": Options((None, True, False)),
        "random_state": Interval(0, None, integer=True),
    }

    def solve_folds(
        self, prepared: Prepared, labels: np.ndarray, folds, c: int, main: PropagationResult
    ) -> list[np.ndarray]:
        """The held-out rows' class probabilities, each fold's labels hidden: only the columns
        a fold changes are solved (:func:`fold_columns`; the others are ``main``'s), side by
        side in blocks, in float32, for exactly ``main``'s CG iterations, so that a held-out
        prediction is as sharp as a real one (more iterations sharpen them beyond it and bias
        the calibration; fewer blunt them)."""
        columns = fold_columns(labels, folds, c)
        graph = prepared.data["graph"]
        rows = _rows(graph, prepared.n_samples)
        n = rows.stop - rows.start
        held = np.concatenate(folds)
        offsets = np.concatenate([[0], np.cumsum([len(f) for f in folds])])
        per_block = max(1, FOLD_BLOCK_BYTES // (4 * n))
        on_cpu = isinstance(graph, ShardedGraph) and tensor_device() == "cpu"
        if on_cpu or (self.device or default_device()) == "cpu":
            per_block = min(per_block, FOLD_CPU_COLUMNS)
        scores = [main.scores[fold].copy() for fold in folds]
        # float32, for these solves only: built once for every block, not kept on the graph
        if isinstance(graph, Graph):
            graph = graph.operator(self.device or default_device(), torch.float32, keep=False)
        elif isinstance(graph, ShardedGraph):  # a copy whose kept operators go with it
            graph = replace(graph, _operators={})
        for start in range(0, len(columns), per_block):
            block = columns[start : start + per_block]
            rhs = np.zeros((n, len(block)), dtype=np.float32)
            for j, (_, _, kept) in enumerate(block):
                mine = kept[(kept >= rows.start) & (kept < rows.stop)] - rows.start
                rhs[mine, j] = 1.0 / kept.size if self.normalize_labels else 1.0
            at, *_ = diffuse(
                graph,
                rhs,
                alpha=main.info["fitted_params"]["alpha"],  # the real solve's (all labels)
                max_iter=max(main.n_iter, 1),
                tol=0.0,
                device=self.device,
                dtype=torch.float32,
                rows=held,
            )
            for j, (k, cls, _) in enumerate(block):
                scores[k][:, cls] = at[offsets[k] : offsets[k + 1], j]
        return [normalize_rows(np.clip(s, 0.0, None)) for s in scores]

    def solve(self, prepared: Prepared, y: np.ndarray, c: int) -> PropagationResult:
        """(I - α𝒲) Z = Y by CG for labels ``y`` on the prepared graph."""
        timings = dict(prepared.timings)
        with stage(timings, "propagate"):
            alpha = self.alpha if self.alpha is not None else fitted_alpha((y >= 0).sum(), y.size)
            graph = prepared.data["graph"]
            z, n_iter, converged, resid = diffuse(
                graph,
                label_matrix(
                    y, c, normalize=self.normalize_labels, rows=_rows(graph, prepared.n_samples)
                ),
                alpha=alpha,
                max_iter=self.max_iter,
                tol=self.tol,
                device=self.device,
            )
            if isinstance(graph, ShardedGraph):  # every process gets every row's scores
                z = distributed.gather_rows(torch.from_numpy(z), y.size).numpy()
            z = np.clip(z, 0.0, None)  # Iscen's code: negative scores are clipped at 0
            probabilities = normalize_rows(z)
            weights = example_weights(self.weight, probabilities, y >= 0)
        self.warn_unconverged(converged, resid)
        return finalize(
            y,
            z,
            probabilities,
            weights,
            weight_name=self.weight,
            n_iter=n_iter,
            converged=converged,
            timings=timings,
            info={
                **prepared.info,
                "fitted_params": {"alpha": alpha},
                "cg_relative_residual": float(resid.max()),
            },
        )
