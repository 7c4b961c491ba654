"""Atomic checkpoints that load without running code, with every RNG state.

Files are read with ``torch.load(weights_only=True)``: only tensors and plain Python values
(dicts, lists, tuples, str, numbers, None) load, so an ``encoder.pt`` received from someone else
cannot execute code. RNG states are stored as tensors and plain values for that reason, and are
always read onto the CPU (``torch.set_rng_state`` takes a CPU tensor, whatever device trains).
A damaged or foreign file is an :class:`~deeplabelprop.errors.InputError`, never a silent restart.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from .._torchio import load_torch, save_torch


def rng_state() -> dict:
    """The state of every random generator a run uses (python, numpy, torch CPU and CUDA)."""
    version, internal, gauss = random.getstate()
    name, key, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (user code may draw)
    state = {
        "python": {"version": version, "state": torch.tensor(internal), "gauss": gauss},
        "numpy": {
            "name": name,
            "key": torch.from_numpy(key.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state` (tensors are taken to the CPU first, wherever they were read)."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            n["name"],
            n["key"].cpu().numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically (see :func:`deeplabelprop._torchio.save_torch`)."""
    save_torch(path, state)


def load_checkpoint(path: str | Path, *, what: str = "checkpoint") -> dict:
    """Read a checkpoint onto the CPU, running no code (a foreign pickle is refused)."""
    return load_torch(path, what=what)
