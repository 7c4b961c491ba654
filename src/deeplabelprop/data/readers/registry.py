"""Data sets by name: ``load_dataset(spec)`` and the choices the CLI shows.

Each reader module registers its data sets with :func:`register_dataset`; the modules of this
package are imported on first use, so a new reader is one file (and its test) with one
decorator line. ``spec`` is a name (``fashion-mnist``) or ``name:ARGUMENT`` (``folder:PATH``).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import InputError, MissingSplit
from ..images.dataset import ImageDataset
from .options import LoadOptions


@dataclass(frozen=True)
class DatasetEntry:
    """A registered data set.

    ``load(argument, split, options)`` returns an :class:`ImageDataset`; ``argument`` is the part
    after the colon (a path) for entries that take one. ``holdout``: for a benchmark set without
    a test split, the fraction of its images held out (seeded, stated) as the test set.
    ``files``: its images are files decoded on demand at the options' size (so a reader can ask
    for any size without holding the images resized in memory).
    """

    name: str
    load: Callable[[str | None, str, LoadOptions], ImageDataset]
    splits: tuple[str, ...]
    argument: str | None = None
    holdout: float = 0.0
    description: str = ""
    files: bool = False

    @property
    def usage(self) -> str:
        return f"{self.name}:{self.argument}" if self.argument else self.name


DATASETS: dict[str, DatasetEntry] = {}
_DISCOVERED = False


def register_dataset(
    name: str,
    *,
    splits: tuple[str, ...] = ("train", "test"),
    argument: str | None = None,
    holdout: float = 0.0,
    description: str = "",
    files: bool = False,
):
    """Decorator: register ``load(argument, split, options)`` under ``name``."""

    def decorate(load):
        DATASETS[name] = DatasetEntry(name, load, splits, argument, holdout, description, files)
        return load

    return decorate


def _discover() -> None:
    global _DISCOVERED
    if not _DISCOVERED:
        package = importlib.import_module(__package__)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{__package__}.{module.name}")
        _DISCOVERED = True


def datasets() -> dict[str, DatasetEntry]:
    """Every registered data set, by name."""
    _discover()
    return DATASETS


def dataset_entry(spec: str) -> tuple[DatasetEntry, str | None]:
    """(entry, argument) for ``name`` or ``name:ARGUMENT``."""
    entries = datasets()
    name, _, argument = spec.partition(":")
    entry = entries.get(name)
    if entry is None or bool(entry.argument) != bool(argument):
        choices = ", ".join(sorted(e.usage for e in entries.values()))
        raise InputError(f"unknown dataset {spec!r}; choose one of {choices}")
    return entry, argument or None


def load_dataset(
    spec: str,
    split: str = "train",
    data_dir: str | Path | None = None,
    *,
    options: LoadOptions | None = None,
    download: bool = False,
) -> ImageDataset:
    """Load a registered data set (``spec`` as in :func:`dataset_entry`) and fit its images to
    ``options.image_size`` / ``size`` / ``channels`` when those are set."""
    entry, argument = dataset_entry(spec)
    options = options or LoadOptions()
    if data_dir is not None or download:
        options = replace(
            options, data_dir=str(data_dir) if data_dir else options.data_dir, download=download
        )
    if split not in entry.splits:
        raise MissingSplit(f"{spec} has no {split!r} split (it has {', '.join(entry.splits)})")
    return fit_images(entry.load(argument, split, options), options)


def fit_images(data: ImageDataset, options: LoadOptions) -> ImageDataset:
    """In-memory images resized (bilinear, antialiased) and converted to the options' size and
    channels; file-backed sets are decoded at that size already."""
    size = options.size or ((options.image_size,) * 2 if options.image_size else None)
    channels = options.channels
    h, w, c = data.shape
    if (size is None or tuple(size) == (h, w)) and (channels is None or channels == c):
        return data
    if not isinstance(data.images, np.ndarray):
        raise InputError(f"{data.name}: cannot resize a file-backed set after decoding")
    x = torch.from_numpy(np.ascontiguousarray(data.images)).permute(0, 3, 1, 2).float()
    if channels is not None and channels != c:
        x = x.mean(dim=1, keepdim=True) if channels == 1 else x.expand(-1, 3, -1, -1)
    if size is not None and tuple(size) != (h, w):
        x = F.interpolate(x, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    images = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    return replace(data, images=images)
