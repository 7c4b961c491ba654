"""Applying a saved classifier to image files: decoded and preprocessed as it was trained,
in batches (DataLoader workers decode when asked), on the GPU when there is one."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from .._runfile import read_run
from ..data.images.augment import normalize, to_tensor
from ..data.images.files import FileImages
from ..data.images.listing import check_unreadable, probe, walk_images
from ..data.images.stream import read_batches
from ..errors import InputError
from .saved import SavedModel, load_model

logger = logging.getLogger(__name__)


def image_files(inputs: list[str | Path]) -> list[str]:
    """Image files named directly, or found (at any depth) in the folders named, in order."""
    files: list[str] = []
    for item in inputs:
        item = Path(item).expanduser()
        if item.is_dir():
            found, ignored = walk_images(item, Path("."))
            if ignored:
                logger.info("%s: ignored %d non-image file(s)", item, ignored)
            files += found
        elif item.is_file():
            files.append(str(item))
        else:
            raise InputError(f"{item} does not exist; give image files or folders")
    if not files:
        raise InputError(f"no image files in {', '.join(map(str, inputs))}")
    return files


@torch.no_grad()
def predict_files(
    saved: SavedModel,
    files: list[str],
    *,
    device: str = "cpu",
    batch_size: int = 256,
    num_workers: int = 0,
    unreadable: str = "stop",
) -> tuple[list[str], np.ndarray]:
    """(the files predicted, class probabilities (n, c)) of ``saved`` on ``files``; unreadable
    files stop the run with their names (``unreadable="stop"``) or are left out (``"skip"``)."""
    pre = saved.preprocessing
    if saved.classes is None:
        raise InputError("this model has no classifier (an encoder); use a run's model.pt")
    if pre.size is None:
        raise InputError("this model does not record its input size; use a run's model.pt")
    listing = probe(Path("."), files)
    check_unreadable(listing, unreadable, Path("."))
    images = FileImages(
        Path("."),
        listing.files,
        tuple(pre.size),
        pre.channels,
        pre.resize,
        pre.short_side,
        pre.interpolation,
    )
    network = saved.network.to(device).eval()
    rows = [
        np.arange(s, min(s + batch_size, len(images))) for s in range(0, len(images), batch_size)
    ]
    out = []
    for pixels in read_batches(images, rows, num_workers=num_workers):
        x = normalize(to_tensor(pixels, device), pre.mean, pre.std)
        out.append(torch.softmax(network(x).float(), dim=1).cpu())
    return list(listing.files), torch.cat(out).numpy().astype(np.float64)


def model_path(path: str | Path) -> Path:
    """``model.pt`` itself, or the one a run directory records."""
    path = Path(path).expanduser()
    if path.is_dir():
        outputs = read_run(path)["outputs"]
        if "model" not in outputs:
            raise InputError(f"the run in {path} has no trained classifier (model.pt) yet")
        return path / outputs["model"]
    return path


def load_classifier(path: str | Path, device: str) -> SavedModel:
    """The classifier saved at ``path`` (a model.pt or a run directory)."""
    return load_model(model_path(path), device, what="model")
