"""One writer at a time on a label file: an advisory lock (``flock``) on a hidden file beside it.

The review page, ``import`` and anything else that changes a label file hold the exclusive
lock while they read, change and rename it; every reader of labels (the data set's readers, a
rerun) holds the shared lock while it reads. A writer therefore never replaces a file a reader
is half-way through, and two writers never interleave. The lock is released when the holder
exits, also when it is killed (the kernel drops it with the process), so a killed server
leaves no stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

WAIT_SECONDS = 30.0
_HELD: dict[Path, int] = {}  # label files this process holds the lock of (re-entrant)


def lock_path(labels: str | os.PathLike) -> Path:
    """The lock file of label file ``labels``: ``.<name>.lock`` beside it (hidden, so image
    readers skip it)."""
    labels = Path(labels)
    return labels.with_name(f".{labels.name}.lock")


@contextlib.contextmanager
def labels_lock(
    labels: str | os.PathLike, *, shared: bool = False, wait: float = WAIT_SECONDS
) -> Iterator[None]:
    """Hold the lock of label file ``labels`` (``shared`` for reading) for the block. Waits up
    to ``wait`` seconds for another holder, then raises :class:`InputError` naming the file."""
    path = lock_path(labels).resolve()
    if not path.parent.is_dir() or path in _HELD:  # nothing there yet, or held here already
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if shared:  # a read-only folder: nobody can write its labels, so nothing to wait for
            yield
            return
        raise InputError(f"cannot lock {labels} for writing ({exc.strerror or exc})") from exc
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise InputError(
                        f"{labels} is locked by another writer (the review page, an import) "
                        f"for more than {wait:.0f} s; wait for it to finish and try again"
                    ) from None
                time.sleep(0.05)
        _HELD[path] = fd
        try:
            yield
        finally:
            del _HELD[path]
    finally:
        os.close(fd)  # closing drops the lock
