"""LLP's aggregation loss (Zhuang et al. 2019, eq. 1-3): a pure function of tensors."""

from __future__ import annotations

import torch

from .precision import full_precision


@full_precision
def aggregation_loss(
    embeddings: torch.Tensor,
    bank: torch.Tensor,
    bank_labels: torch.Tensor,
    targets: torch.Tensor,
    tau: float = 0.07,
) -> torch.Tensor:
    """LLP eq. (1)-(3) per example: L_A(v) = -log Σ_{i: y_i = y} P(i|v), with
    P(i|v) = exp(v_iᵀv/τ) / Σ_j exp(v_jᵀv/τ) over the whole bank.

    embeddings (B, D) unit rows; bank (N, D) unit rows with (pseudo) labels ``bank_labels`` (N,);
    targets (B,) the (pseudo) label y of each embedding. Returns (B,).
    """
    logits = embeddings @ bank.T / tau  # (B, N)
    if 2.0 / tau > 80.0:  # exp(-2/τ) could underflow in float32: masked log-sum-exp instead
        same = bank_labels[None, :] == targets[:, None]
        log_a = torch.logsumexp(logits.masked_fill(~same, -float("inf")), dim=1)
        return torch.logsumexp(logits, dim=1) - log_a
    # unit vectors: logits lie within 2/τ of the row maximum, so exp(logits - max) ≥ e^-80 > 0;
    # Σ_{i∈A} is then one matmul with the one-hot bank labels (no B × N mask)
    shifted = torch.exp(logits - logits.max(dim=1, keepdim=True).values.detach())
    n_classes = int(max(int(bank_labels.max()), int(targets.max()))) + 1
    onehot = torch.zeros(bank.shape[0], n_classes, dtype=shifted.dtype, device=shifted.device)
    onehot[torch.arange(bank.shape[0], device=bank.device), bank_labels] = 1.0
    per_class = shifted @ onehot  # (B, C): Σ over the bank rows of each class
    return torch.log(per_class.sum(dim=1)) - torch.log(
        per_class.gather(1, targets[:, None]).squeeze(1)
    )
