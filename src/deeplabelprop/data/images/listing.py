"""The listing pass over image folders, before any training: which files are images, which of
them cannot be read, and what size and channel count they will be decoded to.

Non-image files (by extension) and hidden files are ignored and counted. Each image's header is
read (size, mode); a file whose header cannot be read stops the run with its name (the default,
``unreadable = "stop"``) or is dropped and counted (``"skip"``).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from .files import GREY_MODES, IMAGE_EXTENSIONS

logger = logging.getLogger(__name__)

UNREADABLE_POLICIES = ("stop", "skip")
DEFAULT_MIXED_SIZE = 64  # the side used when the images differ in size and none is set
LARGEST_NATIVE_SIZE = 256  # larger images are resized to DEFAULT_MIXED_SIZE unless a size is set


@dataclass(frozen=True)
class Listing:
    """Readable images (relative paths, sorted), their (width, height) and modes, and what was
    left out."""

    files: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]
    modes: tuple[str, ...]
    unreadable: tuple[tuple[str, str], ...] = ()
    ignored: int = 0


def walk_images(folder: Path, root: Path) -> tuple[list[str], int]:
    """Image files under ``folder`` at any depth, as paths relative to ``root`` in sorted order,
    and the number of other files (non-images) ignored. Hidden files and folders are skipped."""
    files, ignored = [], 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                files.append(os.path.relpath(os.path.join(dirpath, name), root))
            else:
                ignored += 1
    return files, ignored


def _header(path: Path) -> tuple[tuple[int, int], str]:
    from PIL import Image

    with Image.open(path) as im:
        size, mode = im.size, im.mode
        orientation = im.getexif().get(0x0112, 1) if hasattr(im, "getexif") else 1
    if orientation in (5, 6, 7, 8):  # EXIF rotation by 90°: decoded width and height swap
        size = (size[1], size[0])
    return size, mode


def probe(root: Path, files: list[str], *, progress: bool = False) -> Listing:
    """Read the header of every file; unreadable ones are recorded with the reason."""
    from PIL import UnidentifiedImageError

    readable, sizes, modes, bad = [], [], [], []
    items = files
    if progress and len(files) > 2000:
        from tqdm import tqdm

        items = tqdm(files, desc="listing images", unit="file", leave=False)
    for rel in items:
        try:
            size, mode = _header(root / rel)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            bad.append((rel, str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__))
            continue
        readable.append(rel)
        sizes.append(size)
        modes.append(mode)
    return Listing(tuple(readable), tuple(sizes), tuple(modes), tuple(bad))


def check_unreadable(listing: Listing, policy: str, root: Path) -> None:
    """Stop with the names of the unreadable files (``"stop"``), or log their count (``"skip"``)."""
    if policy not in UNREADABLE_POLICIES:
        raise InputError(
            f"unreadable={policy!r} is not valid; choose one of {', '.join(UNREADABLE_POLICIES)}"
        )
    if not listing.unreadable:
        return
    if policy == "stop":
        shown = "; ".join(f"{p} ({why})" for p, why in listing.unreadable[:5])
        more = len(listing.unreadable) - 5
        raise InputError(
            f"{len(listing.unreadable)} file(s) under {root} cannot be read as images: {shown}"
            f"{f'; and {more} more' if more > 0 else ''}. Remove or replace them, or set "
            "unreadable = 'skip' to leave them out"
        )
    logger.warning(
        "left out %d unreadable file(s) under %s (first: %s)",
        len(listing.unreadable),
        root,
        listing.unreadable[0][0],
    )


def choose_size(sizes: tuple[tuple[int, int], ...], image_size: int | None) -> tuple[int, int]:
    """(height, width) the images are decoded to: ``image_size`` square when given; else their
    own size when they all share one of at most ``LARGEST_NATIVE_SIZE`` px; else
    ``DEFAULT_MIXED_SIZE`` square (logged, with the setting that changes it)."""
    if image_size is not None:
        return (image_size, image_size)
    counts = Counter(sizes)
    if len(counts) == 1:
        (w, h), _ = counts.most_common(1)[0]
        if max(w, h) <= LARGEST_NATIVE_SIZE:
            return (h, w)
        why = f"are {w} × {h}"
    else:
        why = f"have {len(counts)} different sizes (most common {counts.most_common(1)[0][0]})"
    logger.warning(
        "the images %s; decoding them at %d × %d (set image_size to choose another size)",
        why,
        DEFAULT_MIXED_SIZE,
        DEFAULT_MIXED_SIZE,
    )
    return (DEFAULT_MIXED_SIZE, DEFAULT_MIXED_SIZE)


def choose_channels(modes: tuple[str, ...]) -> int:
    """1 when every image is grey (L, 1, 16-bit, ...), else 3 (RGB)."""
    return 1 if modes and all(m in GREY_MODES for m in modes) else 3
