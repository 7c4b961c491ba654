"""``conv4``: the 4-block convolutional backbone of few-shot learning (Vinyals et al. 2016)."""

from __future__ import annotations

import torch
from torch import nn


class Conv4(nn.Module):
    """Four blocks of conv 3 × 3 (64) - BN - ReLU - max pool 2, then global average pooling."""

    def __init__(self, in_channels: int = 3, width: int = 64):
        super().__init__()
        layers, c = [], in_channels
        for _ in range(4):
            layers += [
                nn.Conv2d(c, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            c = width
        self.body = nn.Sequential(*layers)
        self.out_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))
