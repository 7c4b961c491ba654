"""``small-cnn``: a fast 3-stage CNN for 28 × 28 (or 8 × 8) grey images."""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Three stages of two 3 × 3 convolutions (width w, 2w, 4w), max pooling between stages,
    global average pooling: a 4w-dimensional feature. Sized for 2 CPU cores (w = 32 default)."""

    def __init__(self, in_channels: int = 1, width: int = 32):
        super().__init__()
        self.stages = nn.Sequential(
            _block(in_channels, width),
            nn.MaxPool2d(2),
            _block(width, 2 * width),
            nn.MaxPool2d(2),
            _block(2 * width, 4 * width),
        )
        self.out_dim = 4 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, 4w)
        return self.stages(x).mean(dim=(2, 3))
