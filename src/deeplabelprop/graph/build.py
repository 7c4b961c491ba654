"""One call from features to the normalised kNN graph used by the graph propagators."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import DataWarning
from .affinity import adjacency, edge_weights, normalize_symmetric, symmetrize
from .knn import knn, l2_normalize, neighbor_recall, plan_search
from .operator import LocalOperator

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
    _operators: dict = field(default_factory=dict, compare=False, repr=False)

    def operator(
        self, device: str | torch.device, dtype: torch.dtype, *, keep: bool = True
    ) -> LocalOperator:
        """𝒲 on ``device`` in ``dtype``, in locality order: built once per device and kept, so
        that the held-out solves and later rounds on a kept graph reuse it. ``keep=False``
        (the held-out solves' float32 copy) derives it from a kept one without keeping it:
        at 10 M points each kept dtype holds 0.7-1.4 GB more."""
        key = (str(device), dtype)
        if key in self._operators:
            return self._operators[key]
        same_device = [op for (d, _), op in self._operators.items() if d == key[0]]
        op = (
            same_device[0].as_type(dtype)  # one order and one set of indices per device
            if same_device
            else LocalOperator.build(self.normalized, device, dtype)
        )
        if keep:
            self._operators[key] = op
        return op


RECALL_FLOOR = 0.9  # an approximate search that finds fewer true neighbours is redone exactly


def search_checked(
    x, k: int, *, backend: str, exact: bool | None, device, random_state: int, checked: bool = False
):
    """(sims, idx, recall): the kNN search, its recall measured when approximate. Below
    ``RECALL_FLOOR`` an automatic choice (``exact=None``) searches again exactly, and an explicit
    ``exact=False`` warns with what the number means and what to do."""
    search = partial(
        knn, x, k, backend=backend, device=device, random_state=random_state, checked=checked
    )
    sims, idx = search(exact=exact)
    if plan_search(len(x), backend=backend, exact=exact, device=device).exact:
        return sims, idx, None
    recall = neighbor_recall(x, idx, random_state=random_state)
    logger.info("approximate kNN recall@%d: %.4f", k, recall)
    if recall >= RECALL_FLOOR:
        return sims, idx, recall
    what = (
        f"the approximate kNN search found {100 * recall:.1f} % of the true {k} nearest "
        f"neighbours (recall@{k}), below {100 * RECALL_FLOOR:.0f} %: the graph would miss real "
        "neighbours"
    )
    if exact is None:
        warnings.warn(f"{what}; searching exactly instead (slower)", DataWarning, stacklevel=4)
        sims, idx = search(exact=True)
        return sims, idx, 1.0
    warnings.warn(
        f"{what}; set exact=True (or leave exact unset to switch automatically), or use a "
        "smaller k",
        DataWarning,
        stacklevel=4,
    )
    return sims, idx, recall


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
    unit: bool = False,
) -> Graph:
    """Iscen eq. (9) and §3: ℓ2-normalise, kNN, affinities, W = A + Aᵀ, 𝒲 = D^-½ W D^-½.

    ``unit``: the rows are unit already (checked float32, as the pipeline passes them)."""
    x = features if unit else l2_normalize(features)
    sims, idx, recall = search_checked(
        x,
        n_neighbors,
        backend=backend,
        exact=exact,
        device=device,
        random_state=random_state,
        checked=unit,
    )
    a = adjacency(
        idx,
        edge_weights(
            sims, idx, kernel=kernel, gamma=gamma, tau=tau, sigma=sigma, local_scaling=local_scaling
        ),
    )
    w = symmetrize(a, symmetrization)
    normalized, degrees = normalize_symmetric(w)
    return Graph(w, normalized, degrees, recall)
