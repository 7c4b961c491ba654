"""Samples in shards (WebDataset tars, parquet files, a Hugging Face ``datasets`` folder),
decoded into one array without a listing pass over millions of files.

A shard reader gives two passes over its samples, both in the shards' own order: the first
reads keys and labels only (no image is decoded), so the array's size is known; the second
decodes each image (any format Pillow reads), fitted to one size, into memory or, past
``MEMORY_LIMIT``, into a memory-mapped file in the cache folder, reused by every later run on
the same shards (the cache is keyed by the shard files' names, sizes and modification times and
the decoding settings). Samples are keyed by the shards' own keys; a sample without a label is
unlabeled; classes are the label names (or numbers) seen, sorted.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import distributed
from ..._optional import require
from ...atomic import atomic_path
from ...errors import InputError, MissingSplit
from ...fingerprint import Fingerprinter
from ..images.cache import MEMORY_LIMIT, cache_dir
from ..images.dataset import UNKNOWN, ImageDataset, channel_statistics
from ..images.files import DECODE_ERRORS, decode_image
from ..images.listing import choose_size
from .options import LoadOptions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shards:
    """A set of shard files: ``headers()`` yields (key, label) per sample, ``samples()`` yields
    (key, image bytes); ``class_names`` are the names of integer labels when the format
    stores them (a ``datasets`` ClassLabel), else None."""

    name: str
    files: tuple[Path, ...]
    headers: Callable[[], Iterator[tuple[str, object]]]
    samples: Callable[[], Iterator[tuple[str, bytes]]]
    class_names: tuple[str, ...] | None = None


def files_stamp(files: tuple[Path, ...]) -> str:
    """The shard files as they are: names, sizes and modification times."""
    h = Fingerprinter()
    for f in files:
        st = f.stat()
        h.add(str(f.resolve()), [st.st_size, st.st_mtime_ns])
    return h.hexdigest()


def _labels(values: list, class_names: tuple[str, ...] | None) -> tuple[np.ndarray, tuple]:
    """Labels (-1 unknown) and class names from the raw label of each sample: None, -1 or ""
    is unknown; integers are class numbers (named by ``class_names`` when given)."""
    known = [v for v in values if v is not None and v != "" and v != -1]
    if class_names is not None:
        classes = tuple(class_names)
        names = [None if v in (None, "", -1) else classes[int(v)] for v in values]
    elif all(isinstance(v, int | np.integer) for v in known):
        classes = tuple(str(c) for c in sorted({int(v) for v in known}))
        names = [None if v in (None, "", -1) else str(int(v)) for v in values]
    else:
        classes = tuple(sorted({str(v) for v in known}))
        names = [None if v in (None, "", -1) else str(v) for v in values]
    index = {c: k for k, c in enumerate(classes)}
    labels = np.array([UNKNOWN if n is None else index[n] for n in names], dtype=np.int64)
    return labels, classes


def _probe(shards: Shards, image_size: int | None) -> tuple[tuple[int, int], int]:
    """(height, width) and channels of the first decodable images (up to 64)."""
    from PIL import Image

    sizes, modes = [], []
    for _, data in shards.samples():
        try:
            with Image.open(io.BytesIO(data)) as im:
                sizes.append((im.width, im.height))  # as choose_size takes them
                modes.append(im.mode)
        except DECODE_ERRORS:
            continue
        if len(sizes) >= 64:
            break
    if not sizes:
        raise InputError(f"{shards.name}: no sample holds an image Pillow can read")
    grey = {"1", "L", "LA", "I", "I;16", "F", "P"}
    return choose_size(sizes, image_size), 1 if all(m in grey for m in modes) else 3


def _decode_into(shards: Shards, keys: list[str], out: np.ndarray, opts: LoadOptions) -> None:
    size, channels = out.shape[1:3], out.shape[3]
    bar = None
    if opts.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(keys), desc="decoding shards", unit="img", leave=False)
    n = 0
    for key, data in shards.samples():
        if n >= len(keys) or key != keys[n]:
            raise InputError(
                f"{shards.name} changed while it was read (sample {key}); read it again"
            )
        try:
            out[n] = decode_image(io.BytesIO(data), size, channels, opts.resize)
        except DECODE_ERRORS as exc:
            raise InputError(
                f"{shards.name}: the image of sample {key} cannot be decoded ({exc})"
            ) from exc
        n += 1
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    if n != len(keys):
        raise InputError(f"{shards.name} changed while it was read ({n} of {len(keys)} samples)")


def _decoded(shards: Shards, keys: list[str], shape: tuple, stamp: str, opts: LoadOptions):
    """The images of ``shards`` decoded into an array of ``shape``: in memory, or once into a
    memory-mapped file of the cache keyed by ``stamp`` and the decoding settings."""
    if int(np.prod(shape)) <= MEMORY_LIMIT:
        images = np.empty(shape, dtype=np.uint8)
        _decode_into(shards, keys, images, opts)
        return images
    path = (
        cache_dir()
        / "shards"
        / (Fingerprinter().add(stamp, list(shape), opts.resize).hexdigest() + ".npy")
    )

    def decode_once() -> None:
        if path.is_file():
            return
        logger.info("decoding %d samples once into %s", len(keys), path)
        with atomic_path(path) as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
            _decode_into(shards, keys, out, opts)
            out.flush()
            del out

    distributed.from_main(decode_once)  # under torchrun rank 0 decodes, the others wait
    return np.load(path, mmap_mode="r")


def load_shards(shards: Shards, opts: LoadOptions) -> ImageDataset:
    """The samples of ``shards`` as an :class:`ImageDataset` (see the module docstring)."""
    keys, raw = [], []
    for key, label in shards.headers():
        keys.append(key)
        raw.append(label)
    if not keys:
        raise InputError(f"{shards.name} holds no sample")
    if len(set(keys)) != len(keys):
        raise InputError(f"{shards.name}: sample keys repeat; every sample needs its own key")
    labels, classes = _labels(raw, shards.class_names)
    if opts.classes is not None:  # the test split, read to match the training classes
        labels = np.array(
            [
                opts.classes.index(classes[k]) if k >= 0 and classes[k] in opts.classes else UNKNOWN
                for k in labels
            ],
            dtype=np.int64,
        )
        classes = tuple(opts.classes)
    needed = not ((opts.size or opts.image_size) and opts.channels)
    probed = _probe(shards, opts.image_size) if needed else None
    size = opts.size or ((opts.image_size,) * 2 if opts.image_size else probed[0])
    channels = opts.channels or probed[1]
    shape = (len(keys), *size, channels)
    stamp = (
        Fingerprinter()
        .add(files_stamp(shards.files), [opts.image_column, opts.key_column])
        .hexdigest()
    )
    images = _decoded(shards, keys, shape, stamp, opts)
    logger.info(
        "%s: %d samples in %d shard(s) at %d × %d × %d, %d labeled",
        shards.name,
        len(keys),
        len(shards.files),
        *size,
        channels,
        int((labels >= 0).sum()),
    )
    normalization = opts.normalization or channel_statistics(images)
    return ImageDataset(images, labels, classes, shards.name, normalization, tuple(keys), stamp)


def one_split(shards: Callable[[], Shards], spec: str, split: str, opts: LoadOptions):
    """The training split of a one-split shard set (``spec``); any other split is missing."""
    if split != "train":
        raise MissingSplit(f"{spec} is one split; it has no {split} split")
    return load_shards(shards(), opts)


def expand(pattern: str, what: str) -> tuple[Path, ...]:
    """The files of a shard pattern: brace ranges (``{000000..000099}``) and globs (``*``)."""
    import glob

    parts = [pattern]
    if "{" in pattern:  # webdataset's brace notation, with webdataset's own dependency
        parts = list(require("braceexpand").braceexpand(pattern))
    files: list[str] = []
    for part in parts:
        part = str(Path(part).expanduser())
        files += sorted(glob.glob(part)) if any(c in part for c in "*?[") else [part]
    missing = [f for f in files if not Path(f).exists()]
    if not files or missing:
        raise InputError(f"{what} {pattern}: {missing[0] if missing else 'no file'} does not exist")
    return tuple(Path(f) for f in files)
