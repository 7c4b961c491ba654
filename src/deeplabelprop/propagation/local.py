"""``local``: Local Label Propagation's density-weighted votes (Zhuang et al. 2019, eq. 5-8).

Cost O(N · M · d) for N points and M labeled points, in blocks: never an N × N matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .._params import Interval, Options
from .._validation import check_n_neighbors
from ..graph.knn import default_device
from ..graph.votes import class_votes
from .base import Prepared, Propagator, stage
from .registry import register_propagator
from .result import PropagationResult, finalize
from .weights import example_weights


def _rows_per_block(n_cols: int, block_elements: int) -> int:
    return max(1, block_elements // max(1, n_cols))


def labeled_log_density(
    bank: torch.Tensor,
    labeled: torch.Tensor,
    *,
    tau: float = 0.07,
    n_density: int = 25,
    block_elements: int = 1 << 24,
) -> torch.Tensor:
    """log ρ(v_i) for the labeled points i (LLP eq. 7).

    ρ(v_i) = Σ_{j∈N_T(v_i)} P(j|v_i), with P(j|v) = exp(v_jᵀv/τ) / Σ_{l=1..N} exp(v_lᵀv/τ)
    (eq. 1) and N_T(v_i) the T nearest bank entries of v_i other than i itself.

    Parameters
    ----------
    bank : tensor of shape (N, d), unit rows (the memory bank)
    labeled : tensor of shape (M,), indices into ``bank``
    Returns
    -------
    tensor of shape (M,)
    """
    n = bank.shape[0]
    q = bank[labeled]  # (M, d)
    m = q.shape[0]
    log_partition = torch.full((m,), -float("inf"), dtype=torch.float64, device=bank.device)
    top_s = torch.full((m, n_density), -float("inf"), device=bank.device)
    cols = _rows_per_block(m, block_elements)
    for start in range(0, n, cols):
        s = q @ bank[start : start + cols].T / tau  # (M, B) logits
        log_partition = torch.logaddexp(log_partition, torch.logsumexp(s, dim=1).double())
        # exclude the self match from the T nearest
        own = labeled - start
        inside = (own >= 0) & (own < s.shape[1])
        s_masked = s.clone()
        s_masked[inside.nonzero(as_tuple=True)[0], own[inside]] = -float("inf")
        merged = torch.cat([top_s, s_masked], dim=1)
        top_s = merged.topk(n_density, dim=1).values
    # log ρ_i = logsumexp_{j∈N_T} (s_ij/τ) - log Z(v_i)
    return torch.logsumexp(top_s.double(), dim=1) - log_partition


def local_votes(
    bank: torch.Tensor,
    labeled: torch.Tensor,
    labeled_classes: torch.Tensor,
    log_density: torch.Tensor,
    n_classes: int,
    *,
    tau: float = 0.07,
    n_voters: int = 10,
    density_weighting: bool = True,
    block_elements: int = 1 << 24,
    rows: torch.Tensor | None = None,
) -> torch.Tensor:
    """Class probabilities p_j(v) for every bank row, or only ``rows`` (LLP eq. 5, 6, 8).

    Votes come from the K labeled points with the highest locally weighted probability
    P_L(i|v) = P(i|v)/ρ(v_i) (eq. 7), each voting P_L(i|v) for its class; p = w / Σ w (eq. 6).
    Z(v) of P(i|v) is the same for every voter of v, so it cancels and is never computed.
    With ``density_weighting=False`` this is the plain weighted kNN of eq. (5).

    Returns a tensor of shape (N, n_classes), rows summing to 1.
    """
    queries = bank if rows is None else bank[rows]
    n = queries.shape[0]
    q = bank[labeled]  # (M, d)
    k = min(n_voters, q.shape[0])
    offset = (
        -log_density.float()
        if density_weighting
        else torch.zeros_like(log_density, dtype=torch.float32)
    )
    out = torch.empty((n, n_classes), dtype=torch.float64, device=bank.device)
    block = _rows_per_block(q.shape[0], block_elements)
    for start in range(0, n, block):
        # (B, M): log P_L(i|v) + log Z(v)
        logits = queries[start : start + block] @ q.T / tau + offset
        top, which = logits.topk(k, dim=1)
        w = torch.exp((top - top[:, :1]).double())  # scaled votes, the best voter has weight 1
        votes = class_votes(labeled_classes[which], w, n_classes)
        out[start : start + block] = votes / votes.sum(dim=1, keepdim=True)
    return out


@register_propagator
@dataclass
class LocalPropagation(Propagator):
    """Density-weighted votes from the K labeled neighbours (LLP eq. 5-8); confidence c = p_y.

    Defaults from the paper: τ = 0.07, K = 10 voters, T = 25 neighbours for the density.
    """

    n_voters: int = 10
    n_density: int = 25
    tau: float = 0.07
    density_weighting: bool = True
    device: str | None = None

    name: ClassVar[str] = "local"
    weight: ClassVar[str] = "top-probability"  # LLP eq. (6): c = p_y
    calibration: ClassVar[str] = "platt"  # measured best (propagation/calibration.py)
    solve_only: ClassVar[tuple] = ("n_voters", "n_density", "tau", "density_weighting")
    constraints: ClassVar[dict] = {
        "n_voters": Interval(1, None, integer=True),
        "n_density": Interval(1, None, integer=True),
        "tau": Interval(0, None, closed="neither"),
        "density_weighting": Options((True, False)),
    }

    def prepare(self, x: np.ndarray) -> Prepared:
        """The bank of unit rows on the device."""
        check_n_neighbors(self.n_density, x.shape[0], name="n_density")
        device = self.device or default_device()
        return Prepared(x.shape[0], {"bank": torch.from_numpy(x).to(device)})

    def solve(self, prepared: Prepared, y: np.ndarray, c: int) -> PropagationResult:
        """Density-weighted votes of the labeled rows ``y`` (LLP eq. 5-8)."""
        bank = prepared.data["bank"]
        timings: dict = {}
        with torch.no_grad():
            lab = torch.from_numpy(np.flatnonzero(y >= 0)).to(bank.device)
            with stage(timings, "density"):
                log_rho = labeled_log_density(bank, lab, tau=self.tau, n_density=self.n_density)
            with stage(timings, "propagate"):
                p = (
                    local_votes(
                        bank,
                        lab,
                        torch.from_numpy(y).to(bank.device)[lab],
                        log_rho,
                        c,
                        tau=self.tau,
                        n_voters=self.n_voters,
                        density_weighting=self.density_weighting,
                    )
                    .cpu()
                    .numpy()
                )
        info = {"log_density": log_rho.cpu().numpy()}
        weights = example_weights(self.weight, p, y >= 0)
        return finalize(
            y, p, p, weights, weight_name=self.weight, n_iter=1, timings=timings, info=info
        )

    def solve_folds(
        self, prepared: Prepared, labels: np.ndarray, folds, c: int, main: PropagationResult
    ) -> list[np.ndarray]:
        """The votes at the held-out rows only, from the other labeled points. A labeled
        point's density ρ does not depend on which labels are hidden: ``main``'s is reused."""
        bank = prepared.data["bank"]
        lab = np.flatnonzero(labels >= 0)
        log_rho = dict(zip(lab.tolist(), main.info["log_density"].tolist(), strict=True))
        out = []
        with torch.no_grad():
            for fold in folds:
                voters = np.setdiff1d(lab, fold, assume_unique=True)
                p = local_votes(
                    bank,
                    torch.from_numpy(voters).to(bank.device),
                    torch.from_numpy(labels[voters]).to(bank.device),
                    torch.tensor([log_rho[i] for i in voters.tolist()], device=bank.device),
                    c,
                    tau=self.tau,
                    n_voters=self.n_voters,
                    density_weighting=self.density_weighting,
                    rows=torch.from_numpy(fold).to(bank.device),
                )
                out.append(p.cpu().numpy())
        return out
