"""Atomic file writes: the final path holds the whole new file or the old one, never a part."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed onto ``path``.

    If the block raises (or the process dies), ``path`` is untouched and the temporary file is
    removed (or left with a ``.tmp`` name that no reader looks for).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp's 0600 → what open() would have given
        os.replace(tmp_path, final)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_npy(path: str | os.PathLike, array) -> None:
    """``np.save`` to ``path`` atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)


def save_npz(path: str | os.PathLike, **arrays) -> None:
    """``np.savez`` of ``arrays`` to ``path`` atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
