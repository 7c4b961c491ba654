"""Classification losses with per-example and per-class weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def weighted_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    example_weights: torch.Tensor | None = None,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """DMT eq. (10) / Iscen eq. (12): (1/B) Σ_i ω_i ζ_{y_i} (-log p_{y_i}(x_i)).

    ``example_weights`` ω (B,), ``class_weights`` ζ (C,); both default to 1. The mean is over the
    batch size B (not over Σ ω), as in the papers' losses.
    """
    nll = F.cross_entropy(logits, targets, reduction="none")  # (B,)
    w = torch.ones_like(nll)
    if example_weights is not None:
        w = w * example_weights
    if class_weights is not None:
        w = w * class_weights[targets]
    return (w * nll).mean()
