"""MNIST and Fashion-MNIST from their IDX files, with an optional verified download."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import InputError
from ..images.dataset import ImageDataset
from .download import download
from .idx import read_idx
from .options import LoadOptions
from .registry import register_dataset

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# name -> default folder, mirrors, SHA-256 of the official .gz files, class names
SOURCES = {
    "fashion-mnist": {
        "dir": "/usr/share/datasets/fashion-mnist",  # Debian package dataset-fashion-mnist
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "sha256": {
            "train-images-idx3-ubyte": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
            "train-labels-idx1-ubyte": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
            "t10k-images-idx3-ubyte": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
            "t10k-labels-idx1-ubyte": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
        },
        "classes": (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        "normalization": ((0.2860,), (0.3530,)),
    },
    "mnist": {
        "dir": "~/.cache/deeplabelprop/mnist",
        "mirrors": [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
        "sha256": {
            "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        "classes": tuple(str(d) for d in range(10)),
        "normalization": ((0.1307,), (0.3081,)),
    },
}


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def load_idx_dataset(
    name: str,
    split: str = "train",
    data_dir: str | Path | None = None,
    *,
    download_missing: bool = False,
    mirrors: list[str] | None = None,
) -> ImageDataset:
    """``name`` in ``SOURCES``; files ``<stem>.gz`` or raw ``<stem>`` in ``data_dir``.

    With ``download_missing`` absent files are fetched from the official mirrors (or
    ``mirrors``) and verified against their SHA-256 before use.
    """
    if name not in SOURCES:
        raise InputError(f"unknown IDX dataset {name!r}; choose one of {', '.join(SOURCES)}")
    if split not in FILES:
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    source = SOURCES[name]
    folder = Path(data_dir or source["dir"]).expanduser()
    paths = []
    for stem in FILES[split]:
        path = _find(folder, stem)
        if path is None and download_missing:
            urls = [f"{base}{stem}.gz" for base in (mirrors or source["mirrors"])]
            path = download(urls, folder / f"{stem}.gz", source["sha256"][stem])
        if path is None:
            hint = "apt-get install dataset-fashion-mnist, " if name == "fashion-mnist" else ""
            raise InputError(
                f"{name} file {stem}(.gz) not found in {folder}; {hint}pass --data-dir, or allow the download"
            )
        paths.append(path)
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1:
        raise InputError(f"{paths[0]} must hold (n, h, w) images and {paths[1]} (n,) labels")
    if images.shape[0] != labels.shape[0]:
        raise InputError(
            f"{paths[0].name} holds {images.shape[0]} images but {paths[1].name} holds {labels.shape[0]} labels"
        )
    if labels.size and labels.max() >= len(source["classes"]):
        raise InputError(
            f"{paths[1]} has label {int(labels.max())}, outside 0..{len(source['classes']) - 1}"
        )
    return ImageDataset(
        images.astype(np.uint8)[..., None],
        labels.astype(np.int64),
        tuple(source["classes"]),
        name,
        source["normalization"],
    )


@register_dataset("fashion-mnist", description="Zalando's 28 × 28 clothing, 60k + 10k (IDX)")
def _fashion_mnist(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    return load_idx_dataset(
        "fashion-mnist", split, options.data_dir, download_missing=options.download
    )


@register_dataset("mnist", description="LeCun's 28 × 28 digits, 60k + 10k (IDX)")
def _mnist(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    return load_idx_dataset("mnist", split, options.data_dir, download_missing=options.download)
