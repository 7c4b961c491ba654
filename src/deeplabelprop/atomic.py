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
    removed (or left with a ``.tmp`` name that no reader looks for). In a distributed run only
    rank 0 writes ``path``: the other ranks write to a private temporary file that is then
    deleted (every rank runs the same code; only one file appears).
    """
    from . import distributed

    if not distributed.is_main():
        with tempfile.TemporaryDirectory(prefix="deeplabelprop-rank-") as scratch:
            yield Path(scratch) / Path(path).name
        return
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
