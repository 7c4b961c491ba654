"""Image files decoded on demand, as they come: any size, grey, RGB(A), palette, 16-bit,
EXIF-rotated; resized (or cropped) to one size and channel count.

:class:`FileImages` behaves like a uint8 array of shape (n, height, width, channels) indexed by
rows, so the training stream and the readers treat it like any other image source; its decoding
is deterministic, so which process (or DataLoader worker) decodes a file does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
RESIZE_MODES = ("crop", "squash")
INTERPOLATIONS = ("bilinear", "bicubic")
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_HIGH_DEPTH = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
DECODE_ERRORS = (OSError, SyntaxError, ValueError)  # what Pillow raises for a bad file


def _eight_bit(im):
    """A Pillow image in mode L or RGB(A)-like: 16-bit grey is scaled by 1/257, float clipped."""
    from PIL import Image

    if im.mode in _HIGH_DEPTH:
        a = np.asarray(im, dtype=np.float64)
        return Image.fromarray(np.clip(np.rint(a / 257.0), 0, 255).astype(np.uint8), mode="L")
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        scale = 255.0 if a.size and a.max() <= 1.0 else 1.0
        return Image.fromarray(np.clip(np.rint(a * scale), 0, 255).astype(np.uint8), mode="L")
    return im


def fit_size(
    im,
    size: tuple[int, int],
    resize: str,
    short_side: int | None = None,
    interpolation: str = "bilinear",
):
    """``im`` at (height, width) = ``size``: ``"crop"`` scales the shorter side to fit and cuts
    the centre; ``"squash"`` scales each axis on its own (the aspect ratio changes).

    ``short_side`` (crop only): scale the shorter side to this length first, the longer side in
    proportion (truncated, as the Hugging Face and torchvision processors do), then cut the
    centre: a pretrained model's "resize 256, centre crop 224"."""
    from PIL import Image

    resample = Image.BICUBIC if interpolation == "bicubic" else Image.BILINEAR
    h, w = size
    if short_side is not None and resize == "crop":
        short, long = sorted((im.width, im.height))
        scaled = (short_side, int(short_side * long / short))
        sw, sh = scaled if im.width <= im.height else scaled[::-1]
        if (sw, sh) != im.size:
            im = im.resize((sw, sh), resample)
        left, top = int((sw - w) / 2), int((sh - h) / 2)
        return im.crop((left, top, left + w, top + h))
    if im.size == (w, h):
        return im
    if resize == "squash":
        return im.resize((w, h), resample)
    scale = max(h / im.height, w / im.width)
    sw, sh = max(w, round(im.width * scale)), max(h, round(im.height * scale))
    im = im.resize((sw, sh), resample)
    left, top = (sw - w) // 2, (sh - h) // 2
    return im.crop((left, top, left + w, top + h))


def decode_image(
    path,
    size: tuple[int, int],
    channels: int,
    resize: str = "crop",
    short_side: int | None = None,
    interpolation: str = "bilinear",
):
    """The image at ``path`` (or a binary file object: the bytes of a shard's sample) as uint8
    (height, width, channels): EXIF orientation applied, 16-bit
    scaled to 8, alpha dropped, converted to grey (1 channel) or RGB (3), fitted to ``size`` (see
    :func:`fit_size`)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        im = _eight_bit(im).convert("L" if channels == 1 else "RGB")
        im = fit_size(im, size, resize, short_side, interpolation)
        a = np.asarray(im, dtype=np.uint8)
    return a[..., None] if a.ndim == 2 else a


@dataclass(frozen=True, eq=False)
class FileImages:
    """Images ``root/paths[i]`` decoded on demand to (height, width, channels) = ``size`` +
    ``(channels,)``; indexing by an array of rows returns a (B, H, W, C) uint8 array."""

    root: Path
    paths: tuple[str, ...]
    size: tuple[int, int]
    channels: int
    resize: str = "crop"
    short_side: int | None = None
    interpolation: str = "bilinear"

    dtype = np.dtype(np.uint8)
    ndim = 4

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.paths), self.size[0], self.size[1], self.channels)

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, i: int) -> np.ndarray:
        """Image ``i`` decoded; a file that no longer decodes is an error that names it."""
        path = self.root / self.paths[i]
        try:
            return decode_image(
                path, self.size, self.channels, self.resize, self.short_side, self.interpolation
            )
        except DECODE_ERRORS as exc:
            raise InputError(
                f"image {path} cannot be decoded ({exc}); remove or replace it, or set "
                "unreadable = 'skip' so that the listing pass drops files like it"
            ) from exc

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim == 0:
            return self.read(int(rows))
        out = np.empty((rows.size, *self.shape[1:]), dtype=np.uint8)
        for j, i in enumerate(rows):
            out[j] = self.read(int(i))
        return out
