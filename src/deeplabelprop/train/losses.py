"""Classification losses with per-example and per-class weights."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .precision import full_precision


@full_precision
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


@full_precision
def consistency_mse(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Mean Teacher consistency (Iscen eq. 4; Tarvainen & Valpola 2017): the squared distance
    between the student's and the (detached) teacher's softmax outputs, summed over the classes
    and averaged over the batch."""
    p = F.softmax(student_logits, dim=1)
    q = F.softmax(teacher_logits.detach(), dim=1)
    return ((p - q) ** 2).sum(dim=1).mean()


def sigmoid_rampup(step: int, length: int) -> float:
    """exp(-5 (1 - t)²) for t = step / length in [0, 1] (Laine & Aila; Mean Teacher's ramp-up)."""
    if length <= 0:
        return 1.0
    t = min(max(step / length, 0.0), 1.0)
    return math.exp(-5.0 * (1.0 - t) ** 2)
