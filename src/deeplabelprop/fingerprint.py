"""One fingerprint for the whole package: a short digest of what a computation read.

A stage, a kept graph or a cache is identified by its settings *and* a fingerprint of its
inputs (make's rule: a target is stale when a prerequisite changed). Arrays are hashed by dtype,
shape and bytes (memory-mapped ones in blocks, never loaded whole); settings by their canonical
JSON; strings and bytes as they are. The parts are framed, so ("ab", "c") and ("a", "bc") differ.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

BLOCK_BYTES = 64 * 2**20  # arrays are hashed in blocks of this many bytes


def _update(h, part) -> None:
    if isinstance(part, np.ndarray):
        a = part if part.flags.c_contiguous else np.ascontiguousarray(part)
        h.update(f"array|{a.dtype.str}|{a.shape}|".encode())
        flat = a.reshape(-1).view(np.uint8) if a.size else np.empty(0, np.uint8)
        for start in range(0, flat.size, BLOCK_BYTES):
            h.update(memoryview(flat[start : start + BLOCK_BYTES]))
    elif isinstance(part, bytes):
        h.update(b"bytes|%d|" % len(part) + part)
    elif isinstance(part, str):
        data = part.encode("utf-8")
        h.update(b"str|%d|" % len(data) + data)
    else:  # settings: numbers, lists, dicts, None
        data = json.dumps(part, sort_keys=True, default=str).encode("utf-8")
        h.update(b"json|%d|" % len(data) + data)


def fingerprint(*parts, length: int = 24) -> str:
    """A hex digest (``length`` characters) of ``parts``: arrays, strings, bytes or JSON-able
    settings, in order.

    >>> fingerprint({"k": 10}) == fingerprint({"k": 10}) != fingerprint({"k": 11})
    True
    """
    h = hashlib.blake2b(digest_size=32)
    for part in parts:
        _update(h, part)
    return h.hexdigest()[:length]


class Fingerprinter:
    """An incremental :func:`fingerprint` for parts that arrive one by one (a folder listing)."""

    def __init__(self) -> None:
        self._h = hashlib.blake2b(digest_size=32)

    def add(self, *parts) -> Fingerprinter:
        for part in parts:
            _update(self._h, part)
        return self

    def hexdigest(self, length: int = 24) -> str:
        return self._h.hexdigest()[:length]
