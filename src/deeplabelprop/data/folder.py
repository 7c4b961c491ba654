"""Image folders ``root/<class>/*.png|jpg`` read with Pillow, cached as one ``.npy``."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from ..atomic import save_npy
from ..errors import InputError
from .dataset import ImageDataset

logger = logging.getLogger(__name__)

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _listing(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    if not root.is_dir():
        raise InputError(f"image folder {root} does not exist or is not a folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise InputError(
            f"image folder {root} has no class sub-folders; expected root/<class>/<image>"
        )
    files = []
    for label, name in enumerate(classes):
        images = sorted(
            p for p in (root / name).iterdir() if p.suffix.lower() in EXTENSIONS and p.is_file()
        )
        if not images:
            raise InputError(
                f"class folder {root / name} holds no image ({', '.join(sorted(EXTENSIONS))})"
            )
        files.extend((p, label) for p in images)
    return classes, files


def _fingerprint(files: list[tuple[Path, int]], size: tuple[int, int] | None) -> str:
    h = hashlib.sha256(repr(size).encode())
    for path, label in files:
        st = path.stat()
        h.update(f"{path.name}|{label}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _read_images(files: list[tuple[Path, int]], size: tuple[int, int] | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    arrays, modes = [], set()
    for path, _ in files:
        try:
            with Image.open(path) as im:
                im.load()
                modes.add("L" if im.mode in ("L", "1", "I;16", "I") else "RGB")
                arrays.append(im.copy())
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise InputError(f"image {path} cannot be read ({exc}); remove or replace it") from exc
    mode = "L" if modes == {"L"} else "RGB"
    out = []
    for im in arrays:
        im = im.convert(mode)
        if size is not None:
            im = im.resize((size[1], size[0]), Image.BILINEAR)
        a = np.asarray(im, dtype=np.uint8)
        out.append(a[..., None] if a.ndim == 2 else a)
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise InputError(
            f"images in the folder have different sizes {sorted(shapes)[:3]}...; pass a size to resize them"
        )
    return np.stack(out)


def load_image_folder(
    root: str | Path, *, size: tuple[int, int] | None = None, cache_dir: str | Path | None = None
) -> ImageDataset:
    """Images under ``root/<class>/``, classes in sorted order, optionally resized to (h, w).

    The decoded array is cached as ``<cache_dir>/images-<fingerprint>.npy`` (default
    ``root/.cache``); the fingerprint covers every file's name, size and mtime and the size, so
    a changed folder is re-read. Grayscale folders give 1 channel, anything else RGB.
    """
    root = Path(root)
    classes, files = _listing(root)
    labels = np.array([label for _, label in files], dtype=np.int64)
    key = _fingerprint(files, size)[:20]
    cache = Path(cache_dir) if cache_dir else root / ".cache"
    cached = cache / f"images-{key}.npy"
    if cached.is_file():
        try:
            images = np.load(cached, allow_pickle=False)
            if images.shape[0] == len(files) and images.dtype == np.uint8:
                return ImageDataset(images, labels, tuple(classes), f"folder:{root}")
        except (ValueError, OSError, EOFError):
            logger.warning("image cache %s is unreadable; rebuilding it", cached)
    images = _read_images(files, size)
    try:
        save_npy(cached, images)
    except OSError as exc:  # a read-only folder still loads, just without a cache
        logger.warning("could not write the image cache %s (%s)", cached, exc)
    return ImageDataset(images, labels, tuple(classes), f"folder:{root}")
