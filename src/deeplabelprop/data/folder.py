"""Image folders as users have them, read by ``folder:PATH`` (and ``imagenet:PATH``).

Layouts, recognised in this order:

* ``labeled/<class>/**`` and ``unlabeled/**`` (any nesting, any file names): the labeled images
  by class folder, the rest without a label;
* any folder of images plus a CSV of ``path,label`` rows (``labels.csv`` in the folder, or the
  ``labels`` setting): paths relative to the folder, class names as strings; images the CSV
  does not name are unlabeled;
* ``train/<class>/**`` and ``val/<class>/**`` (ImageNet): fully labeled, ``val`` is the test split;
* ``<class>/**``: fully labeled (a benchmark set; a split chooses which labels to use).

A top-level ``test/<class>/**`` is the test split of every layout (``val/`` for ImageNet). Images
are decoded on demand or once into a cache (:mod:`deeplabelprop.data.cache`), resized or cropped
to ``image_size``; non-image files are ignored and counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import InputError
from .cache import decoded_images
from .dataset import UNKNOWN, ImageDataset, channel_statistics
from .files import FileImages
from .listing import check_unreadable, choose_channels, choose_size, probe, walk_images
from .options import LoadOptions
from .registry import register_dataset
from .tables import header_index, read_rows

logger = logging.getLogger(__name__)

TEST_FOLDERS = ("test",)


@dataclass(frozen=True)
class _Labeled:
    """Files (relative to the root) with labels (-1 unknown) and the class names."""

    files: list[str]
    labels: list[int]
    classes: tuple[str, ...]
    ignored: int = 0


class MissingSplit(InputError):
    """The data set has no such split (e.g. no test folder)."""


def _class_folders(
    root: Path, where: Path, *, known: tuple[str, ...] | None = None, exclude: tuple = ()
) -> _Labeled:
    """``where/<class>/**`` with paths relative to ``root``: classes in sorted order (or in
    ``known``'s order); an empty class folder, or one not among ``known``, is an error."""
    names = sorted(
        p.name
        for p in where.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in exclude
    )
    if not names:
        raise InputError(
            f"{where} has no class folders, no labeled/ and unlabeled/ folders and no labels.csv; "
            "see the README's 'Your own images' for the layouts"
        )
    classes = known if known is not None else tuple(names)
    files, labels, ignored = [], [], 0
    for name in names:
        if name not in classes:
            raise InputError(
                f"{where / name} is a class the labeled images do not have; the classes are "
                f"{', '.join(classes)}"
            )
        found, skipped = walk_images(where / name, root)
        if not found:
            raise InputError(
                f"class folder {where / name} holds no image; add images or remove the folder"
            )
        files += found
        labels += [classes.index(name)] * len(found)
        ignored += skipped
    return _Labeled(files, labels, classes, ignored)


def _labeled_unlabeled(root: Path) -> _Labeled:
    """``labeled/<class>/**`` plus ``unlabeled/**``."""
    if not (root / "labeled").is_dir():
        raise InputError(
            f"{root}/labeled/ is missing: put each labeled image in labeled/<class>/ "
            "(the unlabeled ones in unlabeled/)"
        )
    labeled = _class_folders(root, root / "labeled")
    pool, ignored = (
        walk_images(root / "unlabeled", root) if (root / "unlabeled").is_dir() else ([], 0)
    )
    _refuse_duplicates(root, labeled.files, pool)
    return _Labeled(
        labeled.files + pool,
        labeled.labels + [UNKNOWN] * len(pool),
        labeled.classes,
        labeled.ignored + ignored,
    )


def _refuse_duplicates(root: Path, labeled: list[str], pool: list[str]) -> None:
    """A file both labeled and in unlabeled/ (same name, same bytes) is an error."""
    by_name = {(Path(rel).name, (root / rel).stat().st_size): rel for rel in labeled}
    for rel in pool:
        twin = by_name.get((Path(rel).name, (root / rel).stat().st_size))
        if twin is not None and (root / twin).read_bytes() == (root / rel).read_bytes():
            raise InputError(
                f"{rel} is the same file as the labeled {twin}; an image is either labeled or "
                "unlabeled: remove one of them"
            )


def read_label_csv(path: Path, root: Path) -> dict[str, str]:
    """``path,label`` rows (header optional; any spreadsheet dialect, see
    :mod:`~deeplabelprop.data.tables`) as {relative path: class name}."""
    rows = read_rows(path)
    columns = header_index(rows[0], ("path", "label")) if rows else None
    first = 2 if columns is not None else 1  # the row number of the first data row
    rows = rows[1:] if columns is not None else rows
    columns = columns or {"path": 0, "label": 1}
    out: dict[str, str] = {}
    for line, row in enumerate(rows, start=first):
        fields = [row[columns["path"]], row[columns["label"]]] if len(row) >= 2 else row
        if len(row) < 2 or not all(fields):
            raise InputError(
                f"label file {path}, row {line}: expected 'path,label' with both given, got "
                f"{','.join(row)!r}"
            )
        rel_text, name = fields
        rel = str(Path(rel_text))
        if rel in out:
            raise InputError(f"label file {path}: {rel} is listed more than once")
        if not (root / rel).is_file():
            raise InputError(
                f"label file {path}, row {line}: {rel} does not exist under {root} "
                "(paths are relative to the image folder)"
            )
        out[rel] = name
    if not out:
        raise InputError(f"label file {path} names no image; expected rows 'path,label'")
    return out


def _csv_layout(root: Path, labels_csv: Path) -> _Labeled:
    """Every image under ``root`` (but test/), labeled where the CSV names it."""
    named = read_label_csv(labels_csv, root)
    files, ignored = walk_images(root, root)
    files = [f for f in files if Path(f).parts[0] not in TEST_FOLDERS]
    not_images = sorted(set(named) - set(files))
    if not_images:
        raise InputError(
            f"label file {labels_csv} names {not_images[0]}, which is not an image file under "
            f"{root} (or lies in test/)"
        )
    classes = tuple(sorted(set(named.values())))
    labels = [classes.index(named[f]) if f in named else UNKNOWN for f in files]
    return _Labeled(files, labels, classes, ignored - int(labels_csv.parent == root))


def list_folder(root: Path, split: str, opts: LoadOptions) -> _Labeled:
    """The files of ``split`` under ``root`` (relative to it) with their labels."""
    if not root.is_dir():
        raise InputError(f"image folder {root} does not exist or is not a folder")
    imagenet = opts.layout == "imagenet" or ((root / "train").is_dir() and (root / "val").is_dir())
    if split == "test":
        where = root / ("val" if imagenet else "test")
        if not where.is_dir():
            raise MissingSplit(f"{root} has no {where.name}/ folder (the test split)")
        return _class_folders(root, where, known=opts.classes)
    if imagenet:
        return _class_folders(root, root / "train")
    if (root / "labeled").is_dir() or (root / "unlabeled").is_dir():
        return _labeled_unlabeled(root)
    csv_path = Path(opts.labels).expanduser() if opts.labels else root / "labels.csv"
    if opts.labels and not csv_path.is_file():
        raise InputError(f"label file {opts.labels} does not exist")
    if csv_path.is_file():
        return _csv_layout(root, csv_path)
    return _class_folders(root, root, exclude=TEST_FOLDERS)


def load_image_folder(
    root: str | Path, split: str = "train", opts: LoadOptions | None = None
) -> ImageDataset:
    """``root`` in one of the module's layouts as an :class:`ImageDataset` (``split`` train or
    test): labels -1 where unknown, ``paths`` relative to ``root``."""
    opts = opts or LoadOptions()
    root = Path(root).expanduser()
    labeled = list_folder(root, split, opts)
    listing = probe(root, labeled.files, progress=opts.progress)
    check_unreadable(listing, opts.unreadable, root)
    if not listing.files:
        raise InputError(f"{root} holds no readable image")
    index = {f: i for i, f in enumerate(labeled.files)}
    labels = np.array([labeled.labels[index[f]] for f in listing.files], dtype=np.int64)
    size = opts.size or choose_size(listing.sizes, opts.image_size)
    channels = opts.channels or choose_channels(listing.modes)
    files = FileImages(root, listing.files, size, channels, opts.resize)
    images, kept = decoded_images(
        files,
        opts.cache,
        unreadable=opts.unreadable,
        num_workers=opts.num_workers,
        progress=opts.progress,
    )
    data = ImageDataset(images, labels, labeled.classes, f"folder:{root}", paths=listing.files)
    if kept.size < len(files):
        data = data.subset(kept)
    logger.info(
        "%s (%s): %d images at %d × %d × %d, %d labeled, %d unlabeled; %d non-image file(s) "
        "ignored, %d unreadable left out",
        root,
        split,
        len(data),
        *size,
        channels,
        int((data.labels >= 0).sum()),
        int((data.labels < 0).sum()),
        labeled.ignored,
        len(listing.unreadable) + len(files) - kept.size,
    )
    return replace(data, normalization=opts.normalization or channel_statistics(data.images))


@register_dataset(
    "folder",
    argument="PATH",
    description="your images: labeled/<class>/ + unlabeled/, a folder + labels.csv, or <class>/",
    files=True,
)
def _folder(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    return load_image_folder(argument, split, options)


@register_dataset(
    "imagenet",
    argument="PATH",
    description="ImageNet layout: train/<class>/ and val/<class>/",
    files=True,
)
def _imagenet(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    return load_image_folder(argument, split, replace(options, layout="imagenet"))
