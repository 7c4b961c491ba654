"""STL-10 (Coates, Lee & Ng 2011) in its official binary format: a semi-supervised benchmark
with unknown labels built in.

``stl10_binary/`` holds ``train_X.bin`` / ``train_y.bin`` (5,000 labeled images), ``unlabeled_X.bin``
(100,000 images without labels), ``test_X.bin`` / ``test_y.bin`` (8,000) and ``class_names.txt``.
Images are 96 × 96 × 3 uint8, each stored channel by channel in column-major order; labels are
1..10. The training split is the labeled and the unlabeled images together (labels -1 for the
latter), memory-mapped, so the 2.9 GB are never read whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import InputError
from ..images.dataset import UNKNOWN, ImageDataset, channel_statistics
from .options import LoadOptions
from .registry import register_dataset

SIDE = 96


def _images(path: Path) -> np.ndarray:
    """(n, 96, 96, 3) view of a ``*_X.bin`` file, memory-mapped."""
    size = path.stat().st_size
    if size % (3 * SIDE * SIDE):
        raise InputError(f"{path} holds {size} bytes, not a whole number of 96 × 96 × 3 images")
    raw = np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, 3, SIDE, SIDE)
    return raw.transpose(0, 3, 2, 1)  # channel-major, column-major → (n, height, width, channel)


def _labels(path: Path, n: int) -> np.ndarray:
    y = np.fromfile(path, dtype=np.uint8).astype(np.int64) - 1
    if y.shape != (n,) or (y < 0).any() or (y > 9).any():
        raise InputError(f"{path} must hold {n} labels in 1..10")
    return y


class _Stacked:
    """The rows of two image sources one after the other, read lazily."""

    def __init__(self, first, second):
        self.parts = (first, second)
        self.shape = (first.shape[0] + second.shape[0], *first.shape[1:])
        self.dtype, self.ndim = first.dtype, 4

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.arange(self.shape[0])[rows] if isinstance(rows, slice) else np.asarray(rows)
        n0 = self.parts[0].shape[0]
        out = np.empty((rows.size, *self.shape[1:]), dtype=self.dtype)
        first = rows < n0
        out[first] = self.parts[0][rows[first]]
        out[~first] = self.parts[1][rows[~first] - n0]
        return out


def load_stl10(split: str = "train", data_dir: str | Path | None = None) -> ImageDataset:
    """STL-10's ``train`` (labeled + unlabeled) or ``test`` split."""
    root = Path(data_dir or "~/.cache/deeplabelprop/stl10").expanduser()
    folder = root / "stl10_binary" if (root / "stl10_binary").is_dir() else root
    needed = (
        ["class_names.txt", "train_X.bin", "train_y.bin", "unlabeled_X.bin"]
        if split == "train"
        else ["class_names.txt", "test_X.bin", "test_y.bin"]
    )
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise InputError(
            f"STL-10 files {', '.join(missing)} not found in {folder}; extract stl10_binary.tar.gz "
            "there or pass --data-dir"
        )
    classes = tuple(
        c.strip() for c in (folder / "class_names.txt").read_text().splitlines() if c.strip()
    )
    if split == "test":
        images = _images(folder / "test_X.bin")
        return ImageDataset(images, _labels(folder / "test_y.bin", len(images)), classes, "stl10")
    labeled, unlabeled = _images(folder / "train_X.bin"), _images(folder / "unlabeled_X.bin")
    labels = np.concatenate(
        [_labels(folder / "train_y.bin", len(labeled)), np.full(len(unlabeled), UNKNOWN)]
    )
    images = _Stacked(labeled, unlabeled)
    return ImageDataset(images, labels, classes, "stl10", channel_statistics(images))


@register_dataset(
    "stl10", description="STL-10 binary: 5k labeled + 100k unlabeled 96 × 96, 8k test"
)
def _stl10(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    data = load_stl10(split, options.data_dir)
    if split == "test" and options.normalization is not None:
        from dataclasses import replace

        data = replace(data, normalization=options.normalization)
    return data
