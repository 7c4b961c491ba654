"""``load_dataset(name)``: one entry point over every reader; the CLI reads its names here."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .cifar import load_cifar
from .dataset import ImageDataset
from .digits import load_digits_dataset
from .folder import load_image_folder
from .mnist import load_idx_dataset
from .npz import load_npz_images

DATASETS = (
    "fashion-mnist",
    "mnist",
    "cifar10",
    "cifar100",
    "cifar100-coarse",
    "digits",
    "folder:PATH",
    "npz:PATH",
)


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | Path | None = None,
    *,
    download: bool = False,
    size: tuple[int, int] | None = None,
) -> ImageDataset:
    """Load a registered data set: ``fashion-mnist``, ``mnist``, ``cifar10``, ``cifar100``
    (fine labels), ``cifar100-coarse``, ``digits``, ``folder:PATH`` or ``npz:PATH``.

    ``data_dir`` overrides the default location; ``download`` fetches missing MNIST-family files
    from the official mirror (SHA-256 verified); ``size`` resizes image folders.
    """
    if name in ("fashion-mnist", "mnist"):
        return load_idx_dataset(name, split, data_dir, download_missing=download)
    if name in ("cifar10", "cifar100"):
        return load_cifar(name, split, data_dir)
    if name == "cifar100-coarse":
        return load_cifar("cifar100", split, data_dir, label_mode="coarse")
    if name == "digits":
        return load_digits_dataset(split)
    if name.startswith("folder:"):
        root = Path(name.split(":", 1)[1])
        if split != "train":
            root = root / split
        return load_image_folder(root, size=size)
    if name.startswith("npz:"):
        return load_npz_images(name.split(":", 1)[1], split)
    raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
