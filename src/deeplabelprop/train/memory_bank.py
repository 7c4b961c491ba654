"""The memory bank of instance discrimination (Wu et al. 2018) and LLP: one unit vector per example."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import distributed


class MemoryBank:
    """N × D unit vectors v_i, updated as v_i ← normalise(m·v_i + (1 - m)·f_i) (Wu et al. §3.2).

    ``momentum`` m = 0.5 by default; the bank starts from random unit vectors drawn from ``seed``.
    """

    def __init__(
        self, n: int, dim: int = 128, *, momentum: float = 0.5, seed: int = 0, device: str = "cpu"
    ):
        g = torch.Generator().manual_seed(seed)
        self.vectors = F.normalize(torch.randn(n, dim, generator=g), dim=1).to(device)  # (N, D)
        self.momentum = momentum

    @torch.no_grad()
    def update(self, index: torch.Tensor, features: torch.Tensor) -> None:
        """Blend the detached, unit ``features`` (B, D) into rows ``index`` (B,); in a
        distributed run every process's rows are gathered first, so every bank stays the same."""
        index, features = (
            distributed.gather_batch(index),
            distributed.gather_batch(features.detach()),
        )
        mixed = self.momentum * self.vectors[index] + (1 - self.momentum) * features.detach().to(
            self.vectors.dtype
        )
        self.vectors[index] = F.normalize(mixed, dim=1)

    def state_dict(self) -> dict:
        return {"vectors": self.vectors.cpu(), "momentum": self.momentum}

    def load_state_dict(self, state: dict) -> None:
        self.vectors = state["vectors"].to(self.vectors.device)
        self.momentum = state["momentum"]
