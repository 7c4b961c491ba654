"""Thumbnails of a run's images, made when first asked for and kept on disk.

An image is addressed by its row in the run, never by a path from a request: the file is the
one the data set lists for that row (a symbolic link the data set lists is read as that image),
or, for a data set of arrays, its pixels. A thumbnail is kept under
``RUN/review/thumbs/<row>-<stamp>.png``, the stamp naming the file's size and modification time,
so an image changed on disk gets a new thumbnail rather than a stale one.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_path
from ..fingerprint import fingerprint

SIDE = 128  # the longest side of a thumbnail, in pixels (smaller images keep their size)


class Thumbnails:
    """Thumbnails of the rows ``keys`` of a run; ``root`` is the image folder, or None for a
    data set of arrays (``dataset`` names it, read once when first needed)."""

    def __init__(self, run: Path, keys, root: Path | None, dataset: str, data_dir=None):
        self.folder = Path(run) / "review" / "thumbs"
        self.keys, self.root, self.dataset, self.data_dir = list(keys), root, dataset, data_dir
        self._arrays = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.keys)

    def png(self, row: int) -> bytes:
        """The thumbnail of row ``row`` as PNG bytes (``IndexError`` outside the run)."""
        if not 0 <= row < len(self.keys):
            raise IndexError(row)
        path = self.folder / f"{row}-{self._stamp(row)}.png"
        if path.is_file():
            return path.read_bytes()
        data = _encode(self.image(row))
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return data

    def image(self, row: int) -> Image.Image:
        """The full image of row ``row``."""
        if self.root is not None:
            with Image.open(self.root / self.keys[row]) as im:
                im.load()
                return im
        pixels = self._pixels()[row]  # the run's rows are the data set's (arrays, shards)
        return Image.fromarray(
            np.asarray(pixels)[..., 0] if pixels.shape[-1] == 1 else np.asarray(pixels)
        )

    def _stamp(self, row: int) -> str:
        if self.root is None:
            return fingerprint(self.dataset, self.keys[row])[:12]
        st = (self.root / self.keys[row]).stat()
        return fingerprint(self.keys[row], st.st_size, st.st_mtime_ns)[:12]

    def _pixels(self):
        with self._lock:
            if self._arrays is None:
                from ..data import load_dataset

                self._arrays = load_dataset(self.dataset, data_dir=self.data_dir).images
        return self._arrays


def _encode(im: Image.Image) -> bytes:
    if im.mode not in ("L", "RGB"):
        im = (
            im.convert("RGBA").convert("RGB")
            if "A" in im.mode or im.mode == "P"
            else im.convert("RGB")
        )
    im = im.copy()
    im.thumbnail((SIDE, SIDE), Image.BILINEAR)
    out = io.BytesIO()
    im.save(out, format="PNG", compress_level=1)
    return out.getvalue()
