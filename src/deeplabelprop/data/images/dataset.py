"""The data set every reader returns: images, labels with an explicit "unknown", class names,
the normalisation statistics, and (for files) the path of every example."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...errors import InputError

UNKNOWN = -1  # the label of an example whose class is not known (not a class)

Normalization = tuple[tuple[float, ...], tuple[float, ...]]


@dataclass(frozen=True)
class ImageDataset:
    """Images and their labels; ``-1`` (:data:`UNKNOWN`) marks an example without a label.

    Attributes
    ----------
    images : array-like of shape (n, height, width, channels), uint8
        An ndarray (perhaps memory-mapped) or a :class:`~deeplabelprop.data.images.files.FileImages`
        that decodes files on demand; indexed by an array of rows.
    labels : ndarray of shape (n,), int64 in -1..len(classes)-1
    classes : tuple of str, the class names
    name : str, the registry name it was loaded as (used to match split files)
    normalization : ((mean per channel), (std per channel)) of the pixels scaled to [0, 1]
    paths : tuple of str, optional, the file of every example (outputs are keyed by it), or
        its key in the shards it comes from
    source : str, optional, a fingerprint of the files the images come from (shards: their
        names, sizes and times), read instead of the pixels to tell whether they changed
    """

    images: object
    labels: np.ndarray
    classes: tuple[str, ...]
    name: str = ""
    normalization: Normalization | None = None
    paths: tuple[str, ...] | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        shape, dtype = getattr(self.images, "shape", ()), getattr(self.images, "dtype", None)
        if len(shape) != 4 or dtype != np.uint8:
            raise InputError(
                f"images must be uint8 of shape (n, height, width, channels), got {dtype} {shape}"
            )
        if self.labels.shape != (shape[0],):
            raise InputError(f"{shape[0]} images but labels of shape {self.labels.shape}")
        if self.labels.size and (
            self.labels.min() < UNKNOWN or self.labels.max() >= len(self.classes)
        ):
            raise InputError(
                f"labels must lie in 0..{len(self.classes) - 1}, or be {UNKNOWN} for unknown"
            )
        if self.paths is not None and len(self.paths) != shape[0]:
            raise InputError(f"{shape[0]} images but {len(self.paths)} paths")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def fully_labeled(self) -> bool:
        """Every example has a label (a benchmark set, from which a split hides labels)."""
        return bool((self.labels != UNKNOWN).all())

    def subset(self, rows: np.ndarray) -> ImageDataset:
        """The examples ``rows`` (sorted indices), with the same classes and statistics."""
        rows = np.asarray(rows, dtype=np.int64)
        in_memory = isinstance(self.images, np.ndarray) and not isinstance(self.images, np.memmap)
        return replace(
            self,
            images=self.images[rows] if in_memory else RowView.of(self.images, rows),
            labels=self.labels[rows],
            paths=None if self.paths is None else tuple(self.paths[i] for i in rows),
        )

    def example_names(self) -> list[str]:
        """What outputs call each example: its path, else ``name#index``."""
        if self.paths is not None:
            return list(self.paths)
        return [f"{self.name}#{i}" for i in range(len(self))]


class RowView:
    """Rows of a large image source (a memory map, files), selected without reading them."""

    def __init__(self, source, rows: np.ndarray):
        self.source, self.rows = source, np.asarray(rows, dtype=np.int64)
        self.shape = (self.rows.size, *source.shape[1:])
        self.dtype, self.ndim = source.dtype, 4

    @classmethod
    def of(cls, source, rows: np.ndarray) -> RowView:
        if isinstance(source, RowView):  # a view of a view is one view
            return cls(source.source, source.rows[rows])
        return cls(source, rows)

    def __len__(self) -> int:
        return int(self.rows.size)

    def __getitem__(self, index) -> np.ndarray:
        return self.source[self.rows[index]]

    def read(self, i: int) -> np.ndarray:
        """One image (height, width, channels)."""
        return read_one(self.source, int(self.rows[i]))


def read_one(source, i: int) -> np.ndarray:
    """Image ``i`` of an array-like source (a decoder's ``read`` where it has one)."""
    reader = getattr(source, "read", None)
    return reader(i) if reader is not None else np.asarray(source[i])


def channel_statistics(images, *, max_images: int = 10_000, seed: int = 0) -> Normalization:
    """Per-channel mean and standard deviation of the pixels scaled to [0, 1].

    Exact over at most ``max_images`` images (a seeded sample of larger sets), read in blocks,
    so a memory-mapped or file-backed set is never read whole.
    """
    n = images.shape[0]
    rows = np.arange(n)
    if n > max_images:
        rows = np.sort(np.random.default_rng(seed).choice(n, max_images, replace=False))
    total = total_sq = 0.0
    count = 0
    for start in range(0, rows.size, 1024):
        block = np.asarray(images[rows[start : start + 1024]], dtype=np.float64) / 255.0
        total = total + block.sum(axis=(0, 1, 2))
        total_sq = total_sq + (block**2).sum(axis=(0, 1, 2))
        count += block.shape[0] * block.shape[1] * block.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))
    return tuple(round(float(m), 4) for m in mean), tuple(round(float(s), 4) for s in std)
