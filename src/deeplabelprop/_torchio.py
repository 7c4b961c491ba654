"""Saving and loading torch files: atomically, and without running code on load.

Files are read with ``torch.load(weights_only=True)``: only tensors and plain Python values
(dicts, lists, tuples, str, numbers, None) load, so a checkpoint or encoder received from
someone else cannot execute code.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from .atomic import atomic_path
from .errors import InputError


def save_torch(path: str | Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically: a crash mid-write leaves the previous file intact."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_torch(path: str | Path, *, what: str = "checkpoint") -> dict:
    """Read a file written by :func:`save_torch` onto the CPU, running no code.

    A damaged file, or one that holds anything but tensors and plain values (a pickle that would
    run code when loaded), raises :class:`InputError`; ``what`` names the file in the message.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise InputError(
            f"{what} {path} holds Python objects other than tensors and plain values "
            f"({str(exc).splitlines()[0][:120]}); refusing to load it, as that could run code. "
            "Use a file written by deeplabelprop, or re-save the weights as a plain state dict"
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise InputError(
            f"{what} {path} is corrupted or truncated ({str(exc)[:80]}); delete it to restart the "
            "run, or use another file"
        ) from exc
    if not isinstance(state, dict):
        raise InputError(
            f"{what} {path} is not a deeplabelprop {what} (holds {type(state).__name__})"
        )
    return state
