"""Decoded images kept for reuse: in memory (small sets, fastest), or once on disk as a
memory-mapped ``.npy`` (resident memory stays flat however large the folder), or not at all
(every batch decoded from the files in DataLoader workers: for sets too large to store decoded).

The decoding pass runs in ``num_workers`` DataLoader workers, in order, and names every file
that fails to decode (a truncated JPEG has a valid header), before any training.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import torch

from ...atomic import atomic_path
from ...errors import InputError
from ...fingerprint import Fingerprinter
from .files import DECODE_ERRORS, FileImages, decode_image

logger = logging.getLogger(__name__)

CACHE_MODES = ("auto", "memory", "disk", "none")
MEMORY_LIMIT = 1 << 30  # "auto": decoded sets up to 1 GiB are held in memory
DISK_LIMIT = 32 << 30  # ... up to 32 GiB decoded once to a memory-mapped file; larger: none


def cache_dir() -> Path:
    """``$DEEPLABELPROP_CACHE``, else ``~/.cache/deeplabelprop``."""
    return Path(os.environ.get("DEEPLABELPROP_CACHE", "~/.cache/deeplabelprop")).expanduser()


def resolve_mode(mode: str, files: FileImages) -> str:
    """``mode``, with ``"auto"`` chosen by the decoded size (see the module constants)."""
    if mode not in CACHE_MODES:
        raise InputError(f"cache={mode!r} is not valid; choose one of {', '.join(CACHE_MODES)}")
    if mode != "auto":
        return mode
    nbytes = int(np.prod(files.shape))
    return "memory" if nbytes <= MEMORY_LIMIT else "disk" if nbytes <= DISK_LIMIT else "none"


def files_fingerprint(files: FileImages) -> str:
    """Changes when a file, its size or mtime, or the decoding settings change."""
    h = Fingerprinter().add(
        str(files.root.resolve()), [list(files.size), files.channels, files.resize]
    )
    for rel in files.paths:
        st = (files.root / rel).stat()
        h.add(rel, [st.st_size, st.st_mtime_ns])
    return h.hexdigest()


class _Decode(torch.utils.data.Dataset):
    def __init__(self, files: FileImages):
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        f = self.files
        try:
            return (
                i,
                decode_image(
                    f.root / f.paths[i], f.size, f.channels, f.resize, f.short_side, f.interpolation
                ),
                None,
            )
        except DECODE_ERRORS as exc:
            return i, None, (str(exc).splitlines() or [type(exc).__name__])[0][:120]


def _collate(items):
    return items


def decode_all(files: FileImages, out: np.ndarray, *, num_workers: int, progress: bool) -> list:
    """Decode every file into ``out`` (n, h, w, c) in order; returns [(row, reason)] of failures."""
    loader = torch.utils.data.DataLoader(
        _Decode(files),
        batch_size=256,
        num_workers=num_workers,
        collate_fn=_collate,
        generator=torch.Generator(),  # never draws from the global RNG
    )
    if progress:
        from tqdm import tqdm

        loader = tqdm(loader, desc="decoding images", unit="batch", leave=False)
    failed = []
    for batch in loader:
        for i, image, reason in batch:
            if image is None:
                failed.append((i, reason))
            else:
                out[i] = image
    return failed


def _report_failures(files: FileImages, failed: list, policy: str) -> np.ndarray:
    """Rows to keep; with ``policy="stop"`` a failure is an error naming the files."""
    if failed and policy == "stop":
        shown = "; ".join(f"{files.paths[i]} ({why})" for i, why in failed[:5])
        raise InputError(
            f"{len(failed)} image(s) under {files.root} cannot be decoded: {shown}"
            f"{f'; and {len(failed) - 5} more' if len(failed) > 5 else ''}. Remove or replace "
            "them, or set unreadable = 'skip' to leave them out"
        )
    if failed:
        logger.warning("left out %d image(s) that cannot be decoded", len(failed))
    keep = np.ones(len(files), dtype=bool)
    keep[[i for i, _ in failed]] = False
    return np.flatnonzero(keep)


def decoded_images(
    files: FileImages,
    mode: str = "auto",
    *,
    unreadable: str = "stop",
    num_workers: int = 0,
    progress: bool = False,
) -> tuple[object, np.ndarray]:
    """(image source, rows kept): the files decoded per ``mode`` (see :data:`CACHE_MODES`).

    The disk cache is ``cache_dir()/images/<fingerprint>.npy``, written atomically and reused
    by every later run on the same files and settings.
    """
    mode = resolve_mode(mode, files)
    if mode == "none":
        return files, np.arange(len(files))
    if mode == "memory":
        out = np.empty(files.shape, dtype=np.uint8)
        failed = decode_all(files, out, num_workers=num_workers, progress=progress)
        return out, _report_failures(files, failed, unreadable)
    path = cache_dir() / "images" / f"{files_fingerprint(files)}.npy"
    failed_path = path.with_suffix(".failed.json")
    if not path.is_file():
        logger.info("decoding %d images once into %s", len(files), path)
        with atomic_path(path) as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=files.shape)
            failed = decode_all(files, out, num_workers=num_workers, progress=progress)
            out.flush()
            del out
            with atomic_path(failed_path) as ftmp:
                ftmp.write_text(json.dumps(failed))
    else:
        failed = json.loads(failed_path.read_text()) if failed_path.is_file() else []
    return np.load(path, mmap_mode="r"), _report_failures(files, failed, unreadable)
