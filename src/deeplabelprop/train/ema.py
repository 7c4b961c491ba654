"""Exponential moving average of a model's weights (the Mean Teacher)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMATeacher:
    """θ' ← d θ' + (1 - d) θ after each step (Tarvainen & Valpola 2017); buffers are copied."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int | None = None) -> None:
        # during the first steps the average is the plain mean (Mean Teacher's ramp)
        d = self.decay if step is None else min(self.decay, 1 - 1 / (step + 1))
        for t, s in zip(self.model.parameters(), model.parameters(), strict=True):
            t.mul_(d).add_(s.detach(), alpha=1 - d)
        for t, s in zip(self.model.buffers(), model.buffers(), strict=True):
            t.copy_(s)
