"""Images (and labels) stored as NumPy arrays in an ``.npz``, memory-mapped, not read whole.

An array stored uncompressed (``np.savez``) is mapped straight from the zip member; a
compressed one (``np.savez_compressed``) is extracted once into the cache folder and mapped
from there. Labels of ``-1`` mark unlabeled rows.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from ...atomic import atomic_path
from ...errors import InputError, MissingSplit
from ..images.cache import cache_dir
from ..images.dataset import UNKNOWN, ImageDataset, channel_statistics
from .options import LoadOptions
from .registry import register_dataset


def _mapped_member(path: Path, key: str) -> np.ndarray:
    """Array ``key`` of the ``.npz`` at ``path``, memory-mapped read-only."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(f"{key}.npy")
        if info.compress_type == zipfile.ZIP_STORED:
            with open(path, "rb") as fh:
                fh.seek(info.header_offset)
                local = fh.read(30)
                name_len = int.from_bytes(local[26:28], "little")
                extra_len = int.from_bytes(local[28:30], "little")
                start = info.header_offset + 30 + name_len + extra_len
                fh.seek(start)
                version = np.lib.format.read_magic(fh)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(fh)
                offset = fh.tell()
            if dtype.hasobject:
                raise InputError(f"{path}: array {key!r} holds Python objects; store numbers")
            order = "F" if fortran else "C"
            return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
        st = path.stat()
        tag = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{key}".encode())
        target = cache_dir() / "npz" / f"{tag.hexdigest()[:24]}.npy"
        if not target.is_file():
            with atomic_path(target) as tmp, z.open(info) as src, open(tmp, "wb") as dst:
                while block := src.read(1 << 22):
                    dst.write(block)
    return np.load(target, mmap_mode="r")


def load_npz_images(path: str | Path, split: str = "train") -> ImageDataset:
    """``images`` (n, h, w[, c]) uint8 and ``labels`` (n,) ints, -1 for unlabeled rows; optional
    ``classes`` names. Keys may carry a split suffix (``images_test``) for ``split="test"``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"npz file {path} does not exist")
    suffix = "" if split == "train" else f"_{split}"
    ik, lk = f"images{suffix}", f"labels{suffix}"
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if lk in keys:
                labels = np.asarray(z[lk]).astype(np.int64)
            classes = tuple(str(c) for c in z["classes"]) if "classes" in keys else None
        if ik not in keys or lk not in keys:
            hint = " (features? use 'deeplabelprop propagate')" if "features" in keys else ""
            error = MissingSplit if split != "train" and "images" in keys else InputError
            raise error(f"{path} needs arrays {ik!r} and {lk!r}, found {sorted(keys)}{hint}")
        images = _mapped_member(path, ik)
    except InputError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path} could not be read as .npz ({exc}); is it corrupted?") from exc
    if images.ndim == 3:
        images = images.reshape(*images.shape, 1)
    if images.dtype != np.uint8:
        raise InputError(f"{path}: images must be uint8 (0..255), got {images.dtype}")
    if labels.size and labels.min() < UNKNOWN:
        raise InputError(f"{path}: labels must be class indices, or {UNKNOWN} for unlabeled rows")
    if classes is None:
        classes = tuple(str(c) for c in range(int(labels.max()) + 1 if labels.size else 0))
    return ImageDataset(images, labels, classes, f"npz:{path}", channel_statistics(images))


@register_dataset(
    "npz", argument="PATH", description="arrays images (n, h, w[, c]) and labels (-1 unlabeled)"
)
def _npz(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    data = load_npz_images(argument, split)
    if options.normalization is not None:
        from dataclasses import replace

        data = replace(data, normalization=options.normalization)
    return data
