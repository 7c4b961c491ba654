"""The in-memory image dataset every reader returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class ImageDataset:
    """Images and labels held in memory.

    Attributes
    ----------
    images : ndarray of shape (n, height, width, channels), uint8
    labels : ndarray of shape (n,), int64 in 0..len(classes)-1
    classes : tuple of str, the class names
    name : str, the registry name it was loaded as (used to match split files)
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise InputError(
                f"images must be uint8 of shape (n, height, width, channels), got {self.images.dtype} {self.images.shape}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise InputError(
                f"{self.images.shape[0]} images but labels of shape {self.labels.shape}"
            )
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise InputError(f"labels must lie in 0..{len(self.classes) - 1}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]
