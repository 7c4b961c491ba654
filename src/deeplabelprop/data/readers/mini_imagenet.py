"""mini-ImageNet (Vinyals et al. 2016) in Ravi & Larochelle's split: ``PATH/images/`` (their
84 × 84 JPEGs) and ``PATH/train.csv``, ``val.csv``, ``test.csv`` (``filename,label`` rows, the
label a WordNet id): 64 / 16 / 20 classes of 600 images. Registered as ``mini-imagenet:PATH``;
every image of the three files, decoded as it comes (images of another size are fitted to
``image_size``, default 84)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ...errors import InputError
from ..images.cache import decoded_images
from ..images.dataset import ImageDataset, channel_statistics
from ..images.files import FileImages
from .options import LoadOptions
from .registry import register_dataset

SPLIT_FILES = ("train.csv", "val.csv", "test.csv")


def read_split_csv(path: Path) -> list[tuple[str, str]]:
    """(filename, label) rows of a split file; a missing or malformed file names itself."""
    if not path.is_file():
        raise InputError(
            f"{path} is missing; mini-imagenet:PATH needs images/ and Ravi & Larochelle's "
            "train.csv, val.csv and test.csv in PATH"
        )
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if not rows or [c.strip() for c in rows[0]] != ["filename", "label"]:
        raise InputError(f"{path}: expected a header 'filename,label'")
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            raise InputError(f"{path}, row {line}: expected 'filename,label', got {row}")
        out.append((row[0].strip(), row[1].strip()))
    return out


def csv_classes(path: Path) -> tuple[str, ...]:
    """The classes of a split file, in order of first appearance."""
    return tuple(dict.fromkeys(label for _, label in read_split_csv(path)))


def load_mini_imagenet(root: str | Path, options: LoadOptions | None = None) -> ImageDataset:
    options = options or LoadOptions()
    root = Path(root).expanduser()
    rows = [r for name in SPLIT_FILES for r in read_split_csv(root / name)]
    names = [f for f, _ in rows]
    if len(set(names)) != len(names):
        raise InputError(f"{root}: a file is listed twice in {', '.join(SPLIT_FILES)}")
    classes = tuple(sorted({label for _, label in rows}))
    index = {c: i for i, c in enumerate(classes)}
    for f in names[:1] + names[-1:]:
        if not (root / "images" / f).is_file():
            raise InputError(
                f"{root / 'images' / f} does not exist; the images go in {root}/images/"
            )
    size = options.size or ((options.image_size,) * 2 if options.image_size else (84, 84))
    files = FileImages(root / "images", tuple(names), tuple(size), 3, options.resize)
    images, kept = decoded_images(
        files,
        options.cache,
        unreadable=options.unreadable,
        num_workers=options.num_workers,
        progress=options.progress,
    )
    labels = np.array([index[label] for _, label in rows], dtype=np.int64)
    data = ImageDataset(images, labels, classes, f"mini-imagenet:{root}", paths=tuple(names))
    if kept.size < len(files):
        data = data.subset(kept)
    normalization = options.normalization or channel_statistics(data.images)
    return ImageDataset(data.images, data.labels, classes, data.name, normalization, data.paths)


@register_dataset(
    "mini-imagenet",
    splits=("train",),
    argument="PATH",
    description="mini-ImageNet: images/ + Ravi & Larochelle's train/val/test.csv (few-shot)",
    files=True,
)
def _mini_imagenet(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    return load_mini_imagenet(argument or "", options)
