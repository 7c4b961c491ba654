"""``spectral``: DMT's constrained spectral embedding vote (Liu et al. 2019, eq. 6 then eq. 5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .. import distributed
from .._params import Interval, Options
from ..errors import InputError
from ..graph import BACKENDS, EIGEN_METHODS, KERNELS, Spectrum, knn_graph, laplacian_eigenpairs
from ..graph.sharded import rows_at, summed
from ..graph.sharded_spectrum import sharded_eigenpairs
from .base import GraphPropagator, Prepared, hide, stage
from .confidence import DMT_SIGMA
from .registry import register_propagator
from .result import PropagationResult, finalize, normalize_rows
from .weights import example_weights

ZERO_EIGENVALUE = 1e-5
SPECTRAL_FILTERS = ("diffusion", "inverse")


def spectral_basis(
    spectrum: Spectrum,
    degrees: np.ndarray,
    *,
    spectral_filter: str = "inverse",
    alpha: float = 0.99,
    reduce=None,
) -> tuple[np.ndarray, np.ndarray]:
    """The basis and weights of W' = Σ_{j=2..η} f(λ_j) e_j e_jᵀ = E diag(w) Eᵀ.

    ``spectral_filter="inverse"`` is DMT eq. (6), f(λ) = 1/λ. ``"diffusion"`` is
    f(λ) = 1/(1 - α + αλ), the spectrum of Zhou's (I - α𝒲)^-1 restricted to the η
    eigenvectors: 1/λ lets the first few eigenvectors dominate the vote (it is truncated
    Poisson learning), which on Fashion-MNIST costs ~10 points at 40-100 labels
    (benchmarks/RESULTS.md); the diffusion filter keeps the finer eigenvectors in play.

    The excluded j = 1 is the trivial eigenvector D^½1 (λ = 0). It is projected out rather than
    dropped by position, which also covers a disconnected graph: there λ = 0 repeats once per
    component and the remaining null directions are contrasts between components. Eigenvalues
    below ``ZERO_EIGENVALUE`` count as 0; for the inverse filter they get the weight
    1/ZERO_EIGENVALUE (the λ → 0 limit of a barely connected graph), so component membership
    dominates the vote and the finer eigenvectors break ties within a component.

    ``reduce``: with the rows sharded over processes (this process's rows of the eigenvectors
    and degrees), the sum over processes (:func:`~deeplabelprop.graph.sharded.summed`).

    Returns
    -------
    basis : ndarray of shape (n, η)
    weights : ndarray of shape (η,), f(λ_j) (0 for the trivial direction)
    """
    e = spectrum.eigenvectors
    u = np.sqrt(np.clip(degrees, 0.0, None))
    norm = np.linalg.norm(u) if reduce is None else float(np.sqrt(reduce(np.array([u @ u]))[0]))
    if norm > 0:
        u = u / norm
        e = e - np.outer(u, u @ e if reduce is None else reduce(u @ e))
    lam = spectrum.eigenvalues
    if spectral_filter == "inverse":
        weights = 1.0 / np.maximum(lam, ZERO_EIGENVALUE)
    elif spectral_filter == "diffusion":
        weights = 1.0 / (1.0 - alpha + alpha * np.where(lam < ZERO_EIGENVALUE, 0.0, lam))
    else:
        raise InputError(
            f"unknown spectral filter {spectral_filter!r}; choose one of {', '.join(SPECTRAL_FILTERS)}"
        )
    # the column that was the trivial vector is now ~0; give it no weight so noise cannot enter
    norms = np.linalg.norm(e, axis=0) if reduce is None else np.sqrt(reduce((e**2).sum(axis=0)))
    weights[norms < 1e-3] = 0.0
    return e, weights


def spectral_vote(
    basis: np.ndarray,
    weights: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """DMT eq. (5) with W' of eq. (6): z_{u,c} = (1/n_c) Σ_{i∈L_c} W'_{iu}, for every row (or
    only ``rows``).

    Never forms the n × n W': z = E diag(w) Mᵀ with M_c the mean of E over labeled class c.
    """
    lab = np.flatnonzero(labels >= 0)
    means = class_means(basis[lab], labels[lab], n_classes)
    e = basis if rows is None else basis[rows]
    return (e * weights) @ means.T  # (n or len(rows), c)


def class_means(labeled_basis: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """M (c × η): the mean basis row of each class's labeled points."""
    means = np.zeros((n_classes, labeled_basis.shape[1]))
    np.add.at(means, labels, labeled_basis)
    return means / np.maximum(np.bincount(labels, minlength=n_classes), 1)[:, None]


@register_propagator
@dataclass
class Spectral(GraphPropagator):
    """Vote through a spectral embedding of the kNN graph (DMT eq. 6, "constrained spectral").

    Graph: k nearest neighbours (k = 20), W_ij = exp(s_ij/τ) (or another kernel), W = A + Aᵀ,
    L_sym = I - D^-½ W D^-½. The η smallest eigenpairs by Chebyshev-filtered subspace iteration
    (see :mod:`deeplabelprop.graph.spectrum`); the vote of eq. (5) with W'. Probabilities are
    the clipped, row-normalised scores; confidence is DMT's margin (eq. 8-9).

    ``spectral_filter="inverse"`` reproduces DMT eq. (6) exactly (W' = Σ e_j e_jᵀ/λ_j); the
    default ``"diffusion"`` weights eigenvector j by 1/(1 - α + αλ_j) instead, which is more
    accurate with few labels (see :func:`spectral_basis`).
    """

    n_neighbors: int = 20
    n_components: int = 200
    spectral_filter: str = "diffusion"
    alpha: float = 0.99
    kernel: str = "exp"
    tau: float = 0.1
    gamma: float = 3.0
    sigma: float = 0.1
    eigen_method: str = "auto"
    eigen_tol: float = 2e-3
    confidence_temperature: float = 1.0 / DMT_SIGMA
    backend: str = "auto"
    exact: bool | None = None
    device: str | None = None
    random_state: int = 0

    name: ClassVar[str] = "spectral"
    weight: ClassVar[str] = "margin"  # DMT eq. (8)-(9)
    calibration: ClassVar[str] = "platt"  # measured best (propagation/calibration.py)
    solve_only: ClassVar[tuple] = ("confidence_temperature",)
    shards: ClassVar[bool] = True
    constraints: ClassVar[dict] = {
        "n_neighbors": Interval(1, None, integer=True),
        "n_components": Interval(1, None, integer=True),
        "spectral_filter": Options(SPECTRAL_FILTERS),
        "alpha": Interval(0, 1, closed="left"),
        "kernel": Options(KERNELS),
        "tau": Interval(0, None, closed="neither"),
        "gamma": Interval(0, None, closed="neither"),
        "sigma": Interval(0, None, closed="neither"),
        "eigen_method": Options(EIGEN_METHODS),
        "eigen_tol": Interval(0, None, closed="neither"),
        "confidence_temperature": Interval(0, None, closed="neither"),
        "backend": Options(BACKENDS),
        "exact": Options((None, True, False)),
        "random_state": Interval(0, None, integer=True),
    }

    def prepare(self, x: np.ndarray) -> Prepared:
        """The graph, its η eigenpairs and the filtered basis of W': from the features alone."""
        if self.n_components >= x.shape[0]:
            raise InputError(
                f"n_components (eta)={self.n_components} must be smaller than the number of samples "
                f"({x.shape[0]}); use at most {x.shape[0] - 1}"
            )
        base = super().prepare(x)
        graph, timings = base.data["graph"], base.timings
        with stage(timings, "eigenvectors"):
            spectrum = laplacian_eigenpairs(
                graph.normalized,
                self.n_components,
                method=self.eigen_method,
                tol=self.eigen_tol,
                device=self.device,
                random_state=self.random_state,
            )
        basis, weights = spectral_basis(
            spectrum, graph.degrees, spectral_filter=self.spectral_filter, alpha=self.alpha
        )
        info = {
            "knn_recall": graph.knn_recall,
            "eigenvalues": spectrum.eigenvalues,
            "eigen_max_residual": spectrum.max_residual,
            "n_iter": spectrum.n_iter,
            "converged": spectrum.converged,
        }
        return Prepared(x.shape[0], {"basis": basis, "weights": weights}, timings, info)

    def prepare_shard(self, x: np.ndarray, n_samples: int) -> Prepared:
        """:meth:`prepare` with the rows sharded over processes: this process's rows of the
        graph and of the basis (the eigenpairs by :func:`sharded_eigenpairs`)."""
        if self.n_components >= n_samples:
            raise InputError(
                f"n_components (eta)={self.n_components} must be smaller than the number of samples "
                f"({n_samples}); use at most {n_samples - 1}"
            )
        if self.eigen_method not in ("auto", "chebyshev"):
            raise InputError(
                f"eigen_method={self.eigen_method!r} runs in one process; across processes the "
                "eigenpairs come from the Chebyshev iteration: leave eigen_method at auto"
            )
        base = super().prepare_shard(x, n_samples)
        graph, timings = base.data["graph"], base.timings
        with stage(timings, "eigenvectors"):
            spectrum = sharded_eigenpairs(
                graph, self.n_components, tol=self.eigen_tol, random_state=self.random_state
            )
        basis, weights = spectral_basis(
            spectrum,
            graph.degrees,
            spectral_filter=self.spectral_filter,
            alpha=self.alpha,
            reduce=summed,
        )
        info = {
            **base.info,
            "eigenvalues": spectrum.eigenvalues,
            "eigen_max_residual": spectrum.max_residual,
            "n_iter": spectrum.n_iter,
            "converged": spectrum.converged,
        }
        data = {"basis": basis, "weights": weights, "rows": graph.rows}
        return Prepared(n_samples, data, timings, info)

    def solve(self, prepared: Prepared, y: np.ndarray, c: int) -> PropagationResult:
        """The vote of labels ``y`` through the prepared spectral embedding (DMT eq. 5-6)."""
        timings = dict(prepared.timings)
        with stage(timings, "propagate"):
            basis, weights = prepared.data["basis"], prepared.data["weights"]
            own = prepared.data.get("rows")
            if own is None:
                z = spectral_vote(basis, weights, y, c)
            else:  # this process's rows of the basis: the class means over every process's
                lab = np.flatnonzero(y >= 0)
                means = class_means(rows_at(basis, own, lab), y[lab], c)
                z = distributed.gather_rows(torch.from_numpy((basis * weights) @ means.T), y.size)
                z = z.numpy()
            probabilities = normalize_rows(z)
            weights = example_weights(
                self.weight, probabilities, y >= 0, temperature=self.confidence_temperature
            )
        info = {k: v for k, v in prepared.info.items() if k not in ("n_iter", "converged")}
        return finalize(
            y,
            z,
            probabilities,
            weights,
            weight_name=self.weight,
            n_iter=prepared.info["n_iter"],
            converged=prepared.info["converged"],
            timings=timings,
            info=info,
        )

    def solve_folds(
        self, prepared: Prepared, labels: np.ndarray, folds, c: int, main: PropagationResult
    ) -> list[np.ndarray]:
        """The vote at the held-out rows only, each fold's labels hidden (η-dimensional
        products: no n-row work)."""
        basis, weights = prepared.data["basis"], prepared.data["weights"]
        own = prepared.data.get("rows")
        if own is not None:  # the labeled rows' basis from every process; folds by position
            lab = np.flatnonzero(labels >= 0)
            basis, labels = rows_at(basis, own, lab), labels[lab]
            folds = [np.searchsorted(lab, fold) for fold in folds]
        return [
            normalize_rows(spectral_vote(basis, weights, hide(labels, fold), c, rows=fold))
            for fold in folds
        ]


def spectral_similarity(
    features: np.ndarray,
    rows: np.ndarray,
    *,
    pool_size: int = 2000,
    n_neighbors: int = 20,
    n_components: int = 200,
    seed: int = 0,
) -> np.ndarray:
    """W' = E diag(f(λ)) Eᵀ (DMT eq. 6 with the default diffusion filter) between ``rows``, from
    the graph of a seeded sample of at most ``pool_size`` points that contains them (DMT Fig. 2).

    Returns an array of shape (len(rows), len(rows)).
    """
    rng = np.random.default_rng(seed)
    others = np.setdiff1d(np.arange(len(features)), rows)
    pool = np.concatenate([rows, rng.permutation(others)[: max(0, pool_size - len(rows))]])
    graph = knn_graph(
        np.asarray(features, dtype=np.float64)[pool],
        min(n_neighbors, len(pool) - 1),
        kernel="exp",
        tau=0.1,
    )
    spectrum = laplacian_eigenpairs(
        graph.normalized, min(n_components, len(pool) - 2), random_state=seed
    )
    basis, w = spectral_basis(spectrum, graph.degrees, spectral_filter="diffusion")
    e = basis[: len(rows)]
    return (e * w) @ e.T
