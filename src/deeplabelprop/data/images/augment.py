"""Batched image augmentations in plain torch (no torchvision), CPU or GPU, seeded.

Every augmentation is two steps: ``draw`` takes the random numbers of a batch of ``b`` images
from a ``torch.Generator`` (on the CPU, so a seed fixes them on any device), and ``apply``
transforms a float batch ``x`` of shape (B, C, H, W) in [0, 1] with them. Keeping the two apart
lets each process of a distributed run draw for the whole global batch, exactly as one process
would, and apply the draws of its own rows (:func:`select`). The functions ``random_crop``,
``color_jitter``, ... do both steps at once.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

Draws = dict  # name -> tensor with the batch as its first axis (drawn on the CPU, see move)


def to_tensor(
    images: np.ndarray | torch.Tensor, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """uint8 (B, H, W, C) images to float (B, C, H, W) in [0, 1]."""
    t = to_device(torch.as_tensor(images), device)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def to_device(t: torch.Tensor, device: str | torch.device) -> torch.Tensor:
    """``t`` on ``device``; to a GPU through pinned memory without waiting (a copy from pageable
    memory would wait for every kernel queued before it, once per tensor per step)."""
    device = torch.device(device)
    if device.type != "cuda" or t.device.type == "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def select(draws: list[Draws], rows) -> list[Draws]:
    """The draws of the images ``rows`` of the batch (a slice or an index tensor)."""
    return [{k: v[rows] for k, v in d.items()} for d in draws]


def move(draws: list[Draws], device: str | torch.device) -> list[Draws]:
    """Every draw on ``device`` (:func:`to_device`), once per batch."""
    return [{k: to_device(v, device) for k, v in d.items()} for d in draws]


@functools.lru_cache(maxsize=16)
def _constant(name: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A colour matrix on ``device`` in ``dtype``, copied there once."""
    return {"to_yiq": _TO_YIQ, "from_yiq": _FROM_YIQ}[name].to(device, dtype)


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


# -- translation ------------------------------------------------------------------------------
def draw_crop(b: int, gen: torch.Generator, padding: int) -> Draws:
    if padding <= 0:
        return {}
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=gen)
    return {"dy": dy, "dx": dx}


def apply_crop(x: torch.Tensor, d: Draws, padding: int, mode: str = "reflect") -> torch.Tensor:
    if padding <= 0:
        return x
    b, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4, mode=mode)
    dy, dx = d["dy"].to(x.device), d["dx"].to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[bi, ci, rows, cols]


def random_crop(
    x: torch.Tensor, padding: int, gen: torch.Generator, *, mode: str = "reflect"
) -> torch.Tensor:
    """Pad by ``padding`` (reflect, or zeros with ``mode="constant"``) and crop back to H × W at
    a random offset per image: a translation by up to ±padding pixels (Iscen: ±4 px)."""
    return apply_crop(x, draw_crop(x.shape[0], gen, padding), padding, mode)


# -- flip -------------------------------------------------------------------------------------
def draw_flip(b: int, gen: torch.Generator, p: float = 0.5) -> Draws:
    return {"flip": torch.rand(b, generator=gen) < p}


def apply_flip(x: torch.Tensor, d: Draws) -> torch.Tensor:
    flip = d["flip"].to(x.device).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(-1), x)


def random_hflip(x: torch.Tensor, gen: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability p."""
    return apply_flip(x, draw_flip(x.shape[0], gen, p))


# -- resized crop -----------------------------------------------------------------------------
def draw_resized_crop(b: int, gen: torch.Generator, scale, ratio) -> Draws:
    area, aspect = _area_and_aspect(b, gen, scale, ratio)
    return {
        "area": area,
        "aspect": aspect,
        "ux": torch.rand(b, generator=gen),
        "uy": torch.rand(b, generator=gen),
    }


def apply_resized_crop(
    x: torch.Tensor, d: Draws, size: tuple[int, int] | None = None
) -> torch.Tensor:
    b, _, h, w = x.shape
    out_h, out_w = size or (h, w)
    cw = torch.sqrt(d["area"] * d["aspect"]).clamp(max=1.0)  # crop width as a fraction of W
    ch = torch.sqrt(d["area"] / d["aspect"]).clamp(max=1.0)
    cx = (d["ux"] * 2 - 1) * (1 - cw)  # centre in [-1, 1] keeping the crop inside
    cy = (d["uy"] * 2 - 1) * (1 - ch)
    theta = torch.zeros(b, 2, 3, device=cw.device)
    theta[:, 0, 0], theta[:, 0, 2] = cw, cx
    theta[:, 1, 1], theta[:, 1, 2] = ch, cy
    grid = F.affine_grid(
        theta.to(x.device, x.dtype), (b, x.shape[1], out_h, out_w), align_corners=False
    )
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


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
    return apply_resized_crop(x, draw_resized_crop(x.shape[0], gen, scale, ratio), size)


# -- colour -----------------------------------------------------------------------------------
def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=torch.float32
)
_FROM_YIQ = torch.linalg.inv(_TO_YIQ)  # once, not per batch


def draw_jitter(b: int, gen: torch.Generator, brightness, contrast, saturation, hue, p) -> Draws:
    return {
        "apply": torch.rand(b, generator=gen) < p,
        "fb": _uniform(gen, b, 1 - brightness, 1 + brightness, "cpu"),
        "fc": _uniform(gen, b, 1 - contrast, 1 + contrast, "cpu"),
        "fs": _uniform(gen, b, 1 - saturation, 1 + saturation, "cpu"),
        "angle": _uniform(gen, b, -hue, hue, "cpu") * 2 * math.pi,
    }


def apply_jitter(x: torch.Tensor, d: Draws) -> torch.Tensor:
    dev = x.device
    apply = d["apply"].to(dev).view(-1, 1, 1, 1)
    fb, fc, fs = (d[k].to(dev).view(-1, 1, 1, 1) for k in ("fb", "fc", "fs"))
    y = (x * fb).clamp(0, 1)
    mean = _gray(y).mean(dim=(1, 2, 3), keepdim=True)
    y = ((y - mean) * fc + mean).clamp(0, 1)
    if x.shape[1] == 3:
        g = _gray(y)
        y = ((y - g) * fs + g).clamp(0, 1)
        yiq = torch.einsum("ij,bjhw->bihw", _constant("to_yiq", dev, x.dtype), y)
        angle = d["angle"].to(dev)
        cos, sin = torch.cos(angle).view(-1, 1, 1), torch.sin(angle).view(-1, 1, 1)
        i, q = yiq[:, 1], yiq[:, 2]
        yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], dim=1)
        y = torch.einsum("ij,bjhw->bihw", _constant("from_yiq", dev, x.dtype), yiq).clamp(0, 1)
    return torch.where(apply, y, x)


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
    draws = draw_jitter(x.shape[0], gen, brightness, contrast, saturation, hue, p)
    return apply_jitter(x, draws)


def draw_grayscale(b: int, gen: torch.Generator, channels: int, p: float = 0.2) -> Draws:
    return {"gray": torch.rand(b, generator=gen) < p} if channels == 3 else {}


def apply_grayscale(x: torch.Tensor, d: Draws) -> torch.Tensor:
    if x.shape[1] != 3:
        return x
    gray = d["gray"].to(x.device).view(-1, 1, 1, 1)
    return torch.where(gray, _gray(x).expand_as(x), x)


def random_grayscale(x: torch.Tensor, gen: torch.Generator, p: float = 0.2) -> torch.Tensor:
    """Replace an RGB image by its luminance (kept 3-channel) with probability p."""
    return apply_grayscale(x, draw_grayscale(x.shape[0], gen, x.shape[1], p))


# -- erasing ----------------------------------------------------------------------------------
def draw_erasing(b: int, gen: torch.Generator, p: float, scale, ratio) -> Draws:
    area, aspect = _area_and_aspect(b, gen, scale, ratio)
    return {
        "area": area,
        "aspect": aspect,
        "utop": torch.rand(b, generator=gen),
        "uleft": torch.rand(b, generator=gen),
        "value": torch.rand(b, generator=gen),
        "apply": torch.rand(b, generator=gen) < p,
    }


def apply_erasing(x: torch.Tensor, d: Draws) -> torch.Tensor:
    _, _, h, w = x.shape
    eh = (torch.sqrt(d["area"] * d["aspect"]) * h).round().clamp(1, h).long()
    ew = (torch.sqrt(d["area"] / d["aspect"]) * w).round().clamp(1, w).long()
    top = (d["utop"] * (h - eh + 1)).long()
    left = (d["uleft"] * (w - ew + 1)).long()
    # the per-image draws go to the device, not the (B, H, W) mask built from them
    top, eh, left, ew, apply = (
        t.to(x.device).view(-1, 1, 1) for t in (top, eh, left, ew, d["apply"])
    )
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + eh) & (cols >= left) & (cols < left + ew) & apply
    fill = d["value"].view(-1, 1, 1, 1).to(x.device, x.dtype)
    return torch.where(inside.unsqueeze(1), fill, x)


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
    return apply_erasing(x, draw_erasing(x.shape[0], gen, p, scale, ratio))


# -- the training augmentations -----------------------------------------------------------------
class _Pipeline:
    """``draw`` every step's random numbers for ``b`` images, then ``apply`` them (or call it)."""

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self.apply(x, move(self.draw(x.shape[0], gen, x.shape[1]), x.device))


@dataclass(frozen=True)
class ShiftFlip(_Pipeline):
    """Iscen / Mean Teacher training augmentation: translate ±``shift`` px (reflect), flip."""

    shift: int = 4
    flip: bool = True

    def draw(self, b: int, gen: torch.Generator, channels: int) -> list[Draws]:
        return [draw_crop(b, gen, self.shift), draw_flip(b, gen) if self.flip else {}]

    def apply(self, x: torch.Tensor, draws: list[Draws]) -> torch.Tensor:
        x = apply_crop(x, draws[0], self.shift)
        return apply_flip(x, draws[1]) if self.flip else x


@dataclass(frozen=True)
class InstanceAugment(_Pipeline):
    """Instance discrimination (Wu et al. 2018): resized crop (scale 0.2-1), colour jitter 0.4
    (p = 0.8), random grayscale 0.2, horizontal flip; then, an option of ours, random erasing
    with probability ``erase`` (off by default: Wu et al. do not erase)."""

    scale: tuple[float, float] = (0.2, 1.0)
    jitter: float = 0.4
    grayscale: float = 0.2
    flip: bool = True
    erase: float = 0.0

    def draw(self, b: int, gen: torch.Generator, channels: int) -> list[Draws]:
        j = self.jitter
        return [
            draw_resized_crop(b, gen, self.scale, (3 / 4, 4 / 3)),
            draw_jitter(b, gen, j, j, j, 0.1, 0.8),
            draw_grayscale(b, gen, channels, self.grayscale),
            draw_flip(b, gen) if self.flip else {},
            # no draws when off, so runs without erasing reproduce the earlier ones exactly
            draw_erasing(b, gen, self.erase, (0.02, 0.2), (0.3, 3.3)) if self.erase > 0 else {},
        ]

    def apply(self, x: torch.Tensor, draws: list[Draws]) -> torch.Tensor:
        x = apply_resized_crop(x, draws[0])
        x = apply_jitter(x, draws[1])
        x = apply_grayscale(x, draws[2])
        if self.flip:
            x = apply_flip(x, draws[3])
        return apply_erasing(x, draws[4]) if self.erase > 0 else x
