"""``conv13``: the 13-layer network of Laine & Aila (2017), Mean Teacher and Iscen et al."""

from __future__ import annotations

import torch
from torch import nn


def _conv(c_in: int, c_out: int, k: int, padding: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, k, padding=padding),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(0.1, inplace=True),
    ]


class Conv13(nn.Module):
    """3 × (3×3, 128) - pool - drop 0.5 - 3 × (3×3, 256) - pool - drop 0.5 - 3×3 512 (valid) -
    1×1 256 - 1×1 128 - global average pooling: a 128-dimensional feature."""

    def __init__(self, in_channels: int = 3, width: int = 128, dropout: float = 0.5):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            *_conv(in_channels, w, 3, 1),
            *_conv(w, w, 3, 1),
            *_conv(w, w, 3, 1),
            nn.MaxPool2d(2),
            nn.Dropout(dropout),
            *_conv(w, 2 * w, 3, 1),
            *_conv(2 * w, 2 * w, 3, 1),
            *_conv(2 * w, 2 * w, 3, 1),
            nn.MaxPool2d(2),
            nn.Dropout(dropout),
            *_conv(2 * w, 4 * w, 3, 0),
            *_conv(4 * w, 2 * w, 1, 0),
            *_conv(2 * w, w, 1, 0),
        )
        self.out_dim = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))
