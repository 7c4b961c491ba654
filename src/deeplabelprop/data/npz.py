"""Images (and labels) stored as NumPy arrays in an ``.npz``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from .dataset import ImageDataset


def load_npz_images(path: str | Path, split: str = "train") -> ImageDataset:
    """``images`` (n, h, w[, c]) uint8 and ``labels`` (n,) ints; optional ``classes`` names.

    Keys may carry a split suffix (``images_test``, ``labels_test``) for ``split="test"``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"npz file {path} does not exist")
    suffix = "" if split == "train" else f"_{split}"
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            ik, lk = f"images{suffix}", f"labels{suffix}"
            if ik not in keys or lk not in keys:
                hint = " (features? use 'deeplabelprop propagate')" if "features" in keys else ""
                raise InputError(
                    f"{path} needs arrays {ik!r} and {lk!r}, found {sorted(keys)}{hint}"
                )
            images, labels = z[ik], z[lk]
            classes = tuple(str(c) for c in z["classes"]) if "classes" in keys else None
    except InputError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path} could not be read as .npz ({exc}); is it corrupted?") from exc
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8:
        raise InputError(f"{path}: images must be uint8 (0..255), got {images.dtype}")
    labels = np.asarray(labels).astype(np.int64)
    if classes is None:
        classes = tuple(str(c) for c in range(int(labels.max()) + 1 if labels.size else 0))
    return ImageDataset(np.ascontiguousarray(images), labels, classes, f"npz:{path}")
