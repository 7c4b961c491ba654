"""Learning-rate schedules, precomputed per step (nanoGPT style): linear warm-up then cosine."""

from __future__ import annotations

import math


def cosine_lr(
    step: int, total_steps: int, base_lr: float, warmup_steps: int = 0, min_lr: float = 0.0
) -> float:
    """lr at ``step`` (0-based): linear from base_lr/warmup to base_lr, then cosine to min_lr."""
    if warmup_steps and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))
