"""Batched image augmentations in plain torch (no torchvision), CPU or GPU, seeded.

Every function takes a float batch ``x`` of shape (B, C, H, W) with values in [0, 1] and a
``torch.Generator``; all random draws come from that generator (on the CPU, then moved to
``x.device``), so a seed fixes the result on any device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(
    images: np.ndarray | torch.Tensor, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """uint8 (B, H, W, C) images to float (B, C, H, W) in [0, 1]."""
    t = torch.as_tensor(images).to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def _uniform(gen: torch.Generator, shape, low: float, high: float, device) -> torch.Tensor:
    return (torch.rand(shape, generator=gen) * (high - low) + low).to(device)


def _area_and_aspect(
    b: int, gen: torch.Generator, scale, ratio
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image area fractions, uniform in ``scale``, and aspect ratios, log-uniform in ``ratio``
    (on the CPU): the rectangles of the resized crop and of random erasing."""
    area = _uniform(gen, b, scale[0], scale[1], "cpu")
    return area, torch.exp(_uniform(gen, b, math.log(ratio[0]), math.log(ratio[1]), "cpu"))


def normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """(x - mean) / std per channel."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def random_crop(
    x: torch.Tensor, padding: int, gen: torch.Generator, *, mode: str = "reflect"
) -> torch.Tensor:
    """Pad by ``padding`` (reflect, or zeros with ``mode="constant"``) and crop back to H × W at
    a random offset per image: a translation by up to ±padding pixels (Iscen: ±4 px)."""
    if padding <= 0:
        return x
    b, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4, mode=mode)
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=gen).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=gen).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[bi, ci, rows, cols]


def random_hflip(x: torch.Tensor, gen: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability p."""
    flip = (torch.rand(x.shape[0], generator=gen) < p).to(x.device).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(-1), x)


def random_resized_crop(
    x: torch.Tensor,
    gen: torch.Generator,
    *,
    scale: tuple[float, float] = (0.2, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """A random crop of area fraction in ``scale`` and aspect ratio in ``ratio`` (log-uniform),
    resized back to ``size`` (default H × W) bilinearly; one affine grid per image."""
    b, _, h, w = x.shape
    out_h, out_w = size or (h, w)
    area, aspect = _area_and_aspect(b, gen, scale, ratio)
    cw = torch.sqrt(area * aspect).clamp(max=1.0)  # crop width as a fraction of W
    ch = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (torch.rand(b, generator=gen) * 2 - 1) * (
        1 - cw
    )  # centre in [-1, 1] keeping the crop inside
    cy = (torch.rand(b, generator=gen) * 2 - 1) * (1 - ch)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = cw, cx
    theta[:, 1, 1], theta[:, 1, 2] = ch, cy
    grid = F.affine_grid(
        theta.to(x.device, x.dtype), (b, x.shape[1], out_h, out_w), align_corners=False
    )
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def color_jitter(
    x: torch.Tensor,
    gen: torch.Generator,
    *,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
    p: float = 0.8,
) -> torch.Tensor:
    """Random brightness, contrast, saturation and hue factors per image (applied with prob. p).

    Factors are drawn from [1 - s, 1 + s]; hue rotates the chroma plane in YIQ space by up to
    ±hue·2π (a fast stand-in for an HSV hue shift). Saturation and hue need 3 channels and are
    skipped for grayscale. The order is fixed: brightness, contrast, saturation, hue.
    """
    b, dev = x.shape[0], x.device
    apply = (torch.rand(b, generator=gen) < p).to(dev).view(-1, 1, 1, 1)
    fb = _uniform(gen, b, 1 - brightness, 1 + brightness, dev).view(-1, 1, 1, 1)
    fc = _uniform(gen, b, 1 - contrast, 1 + contrast, dev).view(-1, 1, 1, 1)
    fs = _uniform(gen, b, 1 - saturation, 1 + saturation, dev).view(-1, 1, 1, 1)
    angle = _uniform(gen, b, -hue, hue, dev) * 2 * math.pi
    y = (x * fb).clamp(0, 1)
    mean = _gray(y).mean(dim=(1, 2, 3), keepdim=True)
    y = ((y - mean) * fc + mean).clamp(0, 1)
    if x.shape[1] == 3:
        g = _gray(y)
        y = ((y - g) * fs + g).clamp(0, 1)
        to_yiq = torch.tensor(
            [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
            dtype=x.dtype,
            device=dev,
        )
        yiq = torch.einsum("ij,bjhw->bihw", to_yiq, y)
        cos, sin = torch.cos(angle).view(-1, 1, 1), torch.sin(angle).view(-1, 1, 1)
        i, q = yiq[:, 1], yiq[:, 2]
        yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], dim=1)
        y = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(to_yiq), yiq).clamp(0, 1)
    return torch.where(apply, y, x)


def random_grayscale(x: torch.Tensor, gen: torch.Generator, p: float = 0.2) -> torch.Tensor:
    """Replace an RGB image by its luminance (kept 3-channel) with probability p."""
    if x.shape[1] != 3:
        return x
    gray = (torch.rand(x.shape[0], generator=gen) < p).to(x.device).view(-1, 1, 1, 1)
    return torch.where(gray, _gray(x).expand_as(x), x)


def random_erasing(
    x: torch.Tensor,
    gen: torch.Generator,
    p: float = 0.5,
    *,
    scale: tuple[float, float] = (0.02, 0.2),
    ratio: tuple[float, float] = (0.3, 3.3),
) -> torch.Tensor:
    """Random erasing (Zhong et al. 2020): with probability p per image, fill one rectangle of
    area fraction in ``scale`` and aspect ratio (height / width) in ``ratio`` (log-uniform)
    with a single random grey value in [0, 1]; the rectangle lies inside the image."""
    b, _, h, w = x.shape
    area, aspect = _area_and_aspect(b, gen, scale, ratio)
    eh = (torch.sqrt(area * aspect) * h).round().clamp(1, h).long()
    ew = (torch.sqrt(area / aspect) * w).round().clamp(1, w).long()
    top = (torch.rand(b, generator=gen) * (h - eh + 1)).long()
    left = (torch.rand(b, generator=gen) * (w - ew + 1)).long()
    value = torch.rand(b, generator=gen)
    apply = torch.rand(b, generator=gen) < p
    # the per-image draws go to the device, not the (B, H, W) mask built from them
    top, eh, left, ew, apply = (t.to(x.device).view(-1, 1, 1) for t in (top, eh, left, ew, apply))
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + eh) & (cols >= left) & (cols < left + ew) & apply
    fill = value.view(-1, 1, 1, 1).to(x.device, x.dtype)
    return torch.where(inside.unsqueeze(1), fill, x)


@dataclass(frozen=True)
class ShiftFlip:
    """Iscen / Mean Teacher training augmentation: translate ±``shift`` px (reflect), flip."""

    shift: int = 4
    flip: bool = True

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x = random_crop(x, self.shift, gen)
        return random_hflip(x, gen) if self.flip else x


@dataclass(frozen=True)
class InstanceAugment:
    """Instance discrimination (Wu et al. 2018): resized crop (scale 0.2-1), colour jitter 0.4
    (p = 0.8), random grayscale 0.2, horizontal flip; then, an option of ours, random erasing
    with probability ``erase`` (off by default: Wu et al. do not erase)."""

    scale: tuple[float, float] = (0.2, 1.0)
    jitter: float = 0.4
    grayscale: float = 0.2
    flip: bool = True
    erase: float = 0.0

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x = random_resized_crop(x, gen, scale=self.scale)
        x = color_jitter(
            x, gen, brightness=self.jitter, contrast=self.jitter, saturation=self.jitter
        )
        x = random_grayscale(x, gen, self.grayscale)
        if self.flip:
            x = random_hflip(x, gen)
        # no draws when off, so runs without erasing reproduce the earlier ones exactly
        return random_erasing(x, gen, self.erase) if self.erase > 0 else x
