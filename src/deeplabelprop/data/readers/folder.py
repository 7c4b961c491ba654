"""Image folders as users have them, read by ``folder:PATH`` (and ``imagenet:PATH``).

Layouts, each registered with ``@register_layout`` and recognised in this order:

* ``train/<class>/**`` and ``val/<class>/**`` (ImageNet): fully labeled, ``val`` is the test split;
* ``labeled/<class>/**`` and ``unlabeled/**`` (any nesting, any file names): the labeled images
  by class folder, the rest without a label, and a ``labels.csv`` on top;
* any folder of images plus a CSV of ``path,label`` rows (``labels.csv`` in the folder, or the
  ``labels`` setting): paths relative to the folder, class names as strings; images the CSV
  does not name are unlabeled;
* a folder of images and no subfolder: nobody has labeled them yet;
* ``<class>/**``: fully labeled (a benchmark set; a split chooses which labels to use).

A filled ``to_label.csv`` of ``suggest`` (the ``labels_from`` setting) goes on top of any.

A top-level ``test/<class>/**`` is the test split of every layout (``val/`` for ImageNet). Images
are decoded on demand or once into a cache (:mod:`deeplabelprop.data.images.cache`), resized or cropped
to ``image_size``; non-image files are ignored and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ...errors import InputError, MissingSplit
from ..images.cache import decoded_images
from ..images.dataset import UNKNOWN, ImageDataset, channel_statistics
from ..images.files import FileImages
from ..images.listing import check_unreadable, choose_channels, choose_size, probe, walk_images
from ..tables import OUT_OF_SCOPE, header_index, read_rows
from .options import LoadOptions, label_files
from .registry import register_dataset

logger = logging.getLogger(__name__)

TEST_FOLDERS = ("test",)


@dataclass(frozen=True)
class _Labeled:
    """Files (relative to the root) with labels (-1 unknown) and the class names."""

    files: list[str]
    labels: list[int]
    classes: tuple[str, ...]
    ignored: int = 0


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
    unlabeled_classes = [n for n in names if n not in classes]
    if unlabeled_classes:  # a test class nobody has labeled yet: its images count as errors
        logger.warning(
            "%s: class(es) %s have test images but no label yet; their test images count as "
            "errors until you label some",
            where,
            ", ".join(unlabeled_classes),
        )
        classes = (*classes, *unlabeled_classes)
    files, labels, ignored = [], [], 0
    for name in names:
        found, skipped = walk_images(where / name, root)
        if not found:
            raise InputError(
                f"class folder {where / name} holds no image; add images or remove the folder"
            )
        files += found
        labels += [classes.index(name)] * len(found)
        ignored += skipped
    return _Labeled(files, labels, classes, ignored)


def _labeled_unlabeled(root: Path, labels_csv: Path | None) -> _Labeled:
    """``labeled/<class>/**`` plus ``unlabeled/**``, and a ``labels.csv`` on top: a file it
    names takes the CSV's class (the CSV wins over the class folder), so a round of labeling
    adds rows to the CSV without moving files (moved files are new paths: new images)."""
    labeled = (
        _class_folders(root, root / "labeled")
        if (root / "labeled").is_dir()
        else _Labeled([], [], ())
    )
    pool, ignored = (
        walk_images(root / "unlabeled", root) if (root / "unlabeled").is_dir() else ([], 0)
    )
    _refuse_duplicates(root, labeled.files, pool)
    files = labeled.files + pool
    names = [labeled.classes[k] for k in labeled.labels] + [None] * len(pool)
    if labels_csv is not None:
        named = read_label_csv(labels_csv, root)
        _refuse_unlisted(named, files, labels_csv, root)
        names = [named.get(f, n) for f, n in zip(files, names, strict=True)]
        ignored -= own_files(root, labels_csv)
    return _by_name(files, names, labeled.ignored + ignored)


def _by_name(files: list[str], names: list, ignored: int) -> _Labeled:
    """Files with their class names (None: unknown) as labels into the sorted class names;
    files marked out of scope (:data:`OUT_OF_SCOPE`, "none of these") leave the listing."""
    kept = [k for k, n in enumerate(names) if n != OUT_OF_SCOPE]
    if len(kept) < len(names):
        logger.info(
            "%d image(s) marked out of scope (%s) left out", len(names) - len(kept), OUT_OF_SCOPE
        )
        files, names = [files[k] for k in kept], [names[k] for k in kept]
    classes = tuple(sorted({n for n in names if n is not None}))
    labels = [classes.index(n) if n is not None else UNKNOWN for n in names]
    return _Labeled(files, labels, classes, ignored)


def _refuse_unlisted(named: dict, files: list[str], labels_csv: Path, root: Path) -> None:
    not_images = sorted(set(named) - set(files))
    if not_images:
        raise InputError(
            f"label file {labels_csv} names {not_images[0]}, which is not an image file of the "
            f"data set under {root} (or lies in test/)"
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


LABEL_LOG = "labels.log.jsonl"  # the log of label changes beside the label file (review/log.py)


def own_files(root: Path, labels_csv: Path) -> int:
    """This tool's files directly in ``root``, not counted as the user's non-image files: the
    label file and the log of its changes."""
    if labels_csv.parent != root:
        return 0
    return 1 + int((root / LABEL_LOG).is_file())


def _csv_layout(root: Path, labels_csv: Path) -> _Labeled:
    """Every image under ``root`` (but test/), labeled where the CSV names it."""
    named = read_label_csv(labels_csv, root)
    files, ignored = walk_images(root, root)
    files = [f for f in files if Path(f).parts[0] not in TEST_FOLDERS]
    _refuse_unlisted(named, files, labels_csv, root)
    return _by_name(files, [named.get(f) for f in files], ignored - own_files(root, labels_csv))


NEW_CLASS = "new:"  # how a to_label.csv row says its label is a class not seen before


def filled_to_label(path: Path) -> list[tuple[int, str, str, str]]:
    """(line, relative path, label as written, reason) of every row of a ``to_label.csv`` whose
    label is filled in (an empty label is "not labeled yet"; the reason is "" in a file without
    that column); the one reader of the file's layout."""
    rows = read_rows(path, "to_label file")
    columns = header_index(rows[0], ("path", "label")) if rows else None
    if columns is None:
        raise InputError(f"{path} has no header with 'path' and 'label' columns (from `suggest`)")
    reason = (header_index(rows[0], ("reason",)) or {}).get("reason")

    def cell(row: list[str], at: int | None) -> str:
        return row[at] if at is not None and len(row) > at else ""

    out = []
    for line, row in enumerate(rows[1:], start=2):
        label = cell(row, columns["label"])
        if label:
            out.append((line, str(Path(row[columns["path"]])), label, cell(row, reason)))
    return out


def read_to_label(path: Path, root: Path, files: list[str], classes: tuple) -> dict[str, str]:
    """The filled rows of a ``to_label.csv`` as {relative path: class name}. A path that is not
    an image of the data set, or a label that is not a class (a new one is written
    ``new:NAME``), is an error. A data set with no class yet (the first round) takes the names
    as written: there is no class to mistype."""
    known, out = set(files), {}
    for line, rel, name, _ in filled_to_label(path):
        if rel not in known:
            raise InputError(
                f"{path}, row {line}: {rel} is not an image of the data set under {root}"
            )
        if name.startswith(NEW_CLASS):
            name = name[len(NEW_CLASS) :].strip()
        elif classes and name not in classes and name != OUT_OF_SCOPE:
            raise InputError(
                f"{path}, row {line}: {name!r} is not a class ({', '.join(classes) or 'none yet'}); "
                f"write {NEW_CLASS}{name} to add it as a new class"
            )
        out[rel] = name
    return out


def read_audit_rows(path: Path) -> set[str]:
    """The filled rows of a ``to_label.csv`` whose ``reason`` is ``audit`` (drawn at random by
    ``suggest``), by path."""
    return {rel for _, rel, _, reason in filled_to_label(path) if reason == "audit"}


def _with_to_label(labeled: _Labeled, path: Path, root: Path) -> _Labeled:
    """``labeled`` with a filled to_label.csv on top (its labels win)."""
    named = read_to_label(path, root, labeled.files, labeled.classes)
    names = [labeled.classes[k] if k >= 0 else None for k in labeled.labels]
    names = [named.get(f, n) for f, n in zip(labeled.files, names, strict=True)]
    return _by_name(labeled.files, names, labeled.ignored)


def list_folder(root: Path, split: str, opts: LoadOptions) -> _Labeled:
    """The files of ``split`` under ``root`` (relative to it) with their labels (a filled
    to_label.csv, ``labels_from``, on top)."""
    listed = _list_folder(root, split, opts)
    if split != "test":
        for path in label_files(opts):
            listed = _with_to_label(listed, path, root)
    return listed


@dataclass(frozen=True)
class Layout:
    """A way users arrange a folder: ``detect(root, opts)`` recognises it, ``train(root,
    opts)`` lists the training images with their labels, ``test_folder`` holds the test split."""

    name: str
    detect: Callable[[Path, LoadOptions], bool]
    train: Callable[[Path, LoadOptions], _Labeled]
    test_folder: str = "test"


# the layouts, in the order they are recognised; each is registered where it is defined
LAYOUTS: list[Layout] = []


def register_layout(name: str, *, detect, test_folder: str = "test"):
    """Decorator: register ``train(root, opts)`` as layout ``name`` (recognised by
    ``detect``), after the ones registered before it."""

    def decorate(train):
        LAYOUTS.append(Layout(name, detect, train, test_folder))
        return train

    return decorate


def labels_csv(root: Path, opts: LoadOptions) -> Path:
    """The ``path,label`` CSV of a folder: the ``labels`` setting, else ``root/labels.csv``."""
    return Path(opts.labels).expanduser() if opts.labels else root / "labels.csv"


def _is_imagenet(root: Path, opts: LoadOptions) -> bool:
    return opts.layout == "imagenet" or ((root / "train").is_dir() and (root / "val").is_dir())


@register_layout("imagenet", detect=_is_imagenet, test_folder="val")
def _imagenet_train(root: Path, opts: LoadOptions) -> _Labeled:
    """``train/<class>/**`` (and ``val/<class>/**``, the test split): fully labeled."""
    return _class_folders(root, root / "train")


@register_layout(
    "labeled-unlabeled", detect=lambda r, o: (r / "labeled").is_dir() or (r / "unlabeled").is_dir()
)
def _labeled_unlabeled_train(root: Path, opts: LoadOptions) -> _Labeled:
    csv_path = labels_csv(root, opts)
    return _labeled_unlabeled(root, csv_path if csv_path.is_file() else None)


@register_layout("labels-csv", detect=lambda r, o: labels_csv(r, o).is_file())
def _csv_train(root: Path, opts: LoadOptions) -> _Labeled:
    return _csv_layout(root, labels_csv(root, opts))


def _no_subfolders(root: Path, opts: LoadOptions) -> bool:
    return not any(p.is_dir() and p.name not in TEST_FOLDERS for p in root.iterdir())


@register_layout("unlabeled-pile", detect=_no_subfolders)
def _pile_train(root: Path, opts: LoadOptions) -> _Labeled:
    """A folder of images nobody has labeled yet (but test/, the test split)."""
    files, ignored = walk_images(root, root)
    files = [f for f in files if Path(f).parts[0] not in TEST_FOLDERS]
    return _Labeled(files, [UNKNOWN] * len(files), (), ignored)


@register_layout("class-folders", detect=lambda r, o: True)
def _class_folders_train(root: Path, opts: LoadOptions) -> _Labeled:
    """``<class>/**``: fully labeled (a benchmark set; a split chooses which labels to use)."""
    return _class_folders(root, root, exclude=TEST_FOLDERS)


def layout_of(root: Path, opts: LoadOptions) -> Layout:
    """The first registered layout that recognises ``root``."""
    return next(layout for layout in LAYOUTS if layout.detect(root, opts))


def _list_folder(root: Path, split: str, opts: LoadOptions) -> _Labeled:
    if not root.is_dir():
        raise InputError(f"image folder {root} does not exist or is not a folder")
    if opts.labels and not labels_csv(root, opts).is_file():
        raise InputError(f"label file {opts.labels} does not exist")
    layout = layout_of(root, opts)
    if split == "test":
        where = root / layout.test_folder
        if not where.is_dir():
            raise MissingSplit(f"{root} has no {where.name}/ folder (the test split)")
        return _class_folders(root, where, known=opts.classes)
    return layout.train(root, opts)


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
