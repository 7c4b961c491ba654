"""``knn-vote``: DMT's naive nearest-neighbour propagation (Liu et al. 2019, eq. 5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .._params import Interval
from ..graph.knn import default_device
from .base import Prepared, Propagator, hide, stage
from .confidence import DMT_SIGMA
from .registry import register_propagator
from .result import PropagationResult, finalize
from .weights import example_weights


def knn_vote_log_scores(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    tau: float = 0.07,
    device: str = "cpu",
    block_elements: int = 1 << 24,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """DMT eq. (5) in log space: log z_{u,c} = log( (1/n_c) Σ_{i∈L_c} exp(s(x_i, x_u)/τ) ), for
    every row (or only ``rows``).

    ``features`` are compared by inner product (pass unit rows). Cost O(n · M · d) for M
    labeled points, computed in row blocks of at most ``block_elements`` similarities: memory
    never grows with n². Returns an (n, c) array; log space keeps small τ from overflowing.
    """
    queries = features if rows is None else features[rows]
    lab = np.flatnonzero(labels >= 0)
    lab = lab[np.argsort(labels[lab], kind="stable")]  # grouped by class: each class is a slice
    counts = np.bincount(labels[lab], minlength=n_classes)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    out = np.full((queries.shape[0], n_classes), -np.inf)
    with torch.no_grad():
        xl = torch.from_numpy(features[lab]).to(device)  # (M, d)
        block = max(1, block_elements // max(1, lab.size))
        for start in range(0, queries.shape[0], block):
            s = (
                torch.from_numpy(queries[start : start + block]).to(device) @ xl.T
            ).double() / tau  # (B, M)
            for c in np.flatnonzero(counts):  # exact log Σ exp per class: no underflow for small τ
                out[start : start + block, c] = (
                    torch.logsumexp(s[:, bounds[c] : bounds[c + 1]], dim=1).cpu().numpy()
                )
    return out - np.log(np.maximum(counts, 1))


@register_propagator
@dataclass
class KnnVote(Propagator):
    """One-step vote from every labeled point (DMT eq. 5), class-size normalised.

    W_iu = exp(s(x_i, x_u)/τ) with cosine similarity s; z_{u,c} = mean over labeled i of class c.
    ``scores`` hold log z; probabilities are z / Σ_c z; confidence is DMT's margin (eq. 8-9)
    on the probabilities with temperature 1/σ, σ = 40.
    """

    tau: float = 0.07
    confidence_temperature: float = 1.0 / DMT_SIGMA
    device: str | None = None

    name: ClassVar[str] = "knn-vote"
    weight: ClassVar[str] = "margin"  # DMT eq. (8)-(9)
    calibration: ClassVar[str] = "platt"  # measured best (propagation/calibration.py)
    solve_only: ClassVar[tuple] = ("tau", "confidence_temperature")
    constraints: ClassVar[dict] = {
        "tau": Interval(0, None, closed="neither"),
        "confidence_temperature": Interval(0, None, closed="neither"),
    }

    def prepare(self, x: np.ndarray) -> Prepared:
        """The unit rows: the vote compares them by inner product."""
        return Prepared(x.shape[0], {"unit": x})

    def solve(self, prepared: Prepared, y: np.ndarray, c: int) -> PropagationResult:
        """Every labeled point's vote (DMT eq. 5) for labels ``y``."""
        timings: dict = {}
        with stage(timings, "propagate"):
            log_z = knn_vote_log_scores(
                prepared.data["unit"], y, c, tau=self.tau, device=self.device or default_device()
            )
            probabilities = _softmax(log_z)
            weights = example_weights(
                self.weight, probabilities, y >= 0, temperature=self.confidence_temperature
            )
        # one step of a random walk (DMT §3.2): n_iter = 1
        return finalize(
            y, log_z, probabilities, weights, weight_name=self.weight, n_iter=1, timings=timings
        )

    def solve_folds(
        self, prepared: Prepared, labels: np.ndarray, folds, c: int, main: PropagationResult
    ) -> list[np.ndarray]:
        """The vote at the held-out rows only (an M × M block of similarities per fold)."""
        device = self.device or default_device()
        return [
            _softmax(
                knn_vote_log_scores(
                    prepared.data["unit"],
                    hide(labels, fold),
                    c,
                    tau=self.tau,
                    device=device,
                    rows=fold,
                )
            )
            for fold in folds
        ]


def _softmax(log_z: np.ndarray) -> np.ndarray:
    """softmax of log z = z / Σ z, without overflow."""
    shifted = np.exp(log_z - log_z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
