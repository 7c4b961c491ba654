"""``small-cnn``: a fast strided CNN for small grey images (28 × 28 Fashion-MNIST, 8 × 8 digits)."""

from __future__ import annotations

import torch
from torch import nn


def _conv(c_in: int, c_out: int, k: int, stride: int, norm: str) -> list[nn.Module]:
    layer = nn.BatchNorm2d(c_out) if norm == "batch" else nn.GroupNorm(min(8, c_out), c_out)
    return [nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), layer, nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """5 × 5 stride-2 stem (w), 3 × 3 (w), 3 × 3 stride 2 (2w), 3 × 3 (2w), 3 × 3 stride 2 (4w),
    global average pooling: a 4w-dimensional feature.

    ``norm="group"`` (``small-cnn-gn``) uses GroupNorm (8 groups) instead of batch norm: the
    result of an example does not depend on the others in its batch, so a run split over
    several CPU processes equals the single-process run (torch has no CPU SyncBatchNorm).

    Downsampling early keeps it fast on 2 CPU cores: at w = 32 one instance-discrimination epoch
    over Fashion-MNIST's 60,000 images takes ~18 s of forward + backward, against ~93 s for a
    VGG-style net of the same width at full resolution (benchmarks/RESULTS.md).
    """

    def __init__(self, in_channels: int = 1, width: int = 32, norm: str = "batch"):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            *_conv(in_channels, w, 5, 2, norm),
            *_conv(w, w, 3, 1, norm),
            *_conv(w, 2 * w, 3, 2, norm),
            *_conv(2 * w, 2 * w, 3, 1, norm),
            *_conv(2 * w, 4 * w, 3, 2, norm),
        )
        self.out_dim = 4 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, 4w)
        return self.body(x).mean(dim=(2, 3))
