"""One call from features to the normalised kNN graph used by the graph propagators."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .affinity import adjacency, edge_weights, normalize_symmetric, symmetrize
from .knn import knn, l2_normalize, neighbor_recall, plan_search

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Graph:
    """A symmetric kNN graph and its normalised form.

    Attributes
    ----------
    weights : csr_matrix of shape (n, n)       W, symmetric, non-negative, zero diagonal
    normalized : csr_matrix of shape (n, n)    𝒲 = D^-½ W D^-½
    degrees : ndarray of shape (n,)            d_i = Σ_j W_ij
    knn_recall : float or None                 measured recall when the search was approximate
    """

    weights: sp.csr_matrix
    normalized: sp.csr_matrix
    degrees: np.ndarray
    knn_recall: float | None


def knn_graph(
    features: np.ndarray,
    n_neighbors: int,
    *,
    kernel: str = "power",
    gamma: float = 3.0,
    tau: float = 0.1,
    sigma: float = 0.1,
    local_scaling: int | None = None,
    symmetrization: str = "sum",
    backend: str = "auto",
    exact: bool | None = None,
    device: str | None = None,
    random_state: int = 0,
) -> Graph:
    """Iscen eq. (9) and §3: ℓ2-normalise, kNN, affinities, W = A + Aᵀ, 𝒲 = D^-½ W D^-½."""
    x = l2_normalize(features)
    sims, idx = knn(
        x, n_neighbors, backend=backend, exact=exact, device=device, random_state=random_state
    )
    recall = None
    if not plan_search(len(x), backend=backend, exact=exact, device=device).exact:
        recall = neighbor_recall(x, idx, random_state=random_state)
        logger.info("approximate kNN recall@%d: %.4f", n_neighbors, recall)
    a = adjacency(
        idx,
        edge_weights(
            sims, idx, kernel=kernel, gamma=gamma, tau=tau, sigma=sigma, local_scaling=local_scaling
        ),
    )
    w = symmetrize(a, symmetrization)
    normalized, degrees = normalize_symmetric(w)
    return Graph(w, normalized, degrees, recall)
