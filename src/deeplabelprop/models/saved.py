"""A trained network saved with everything needed to use it on new images: how to rebuild it,
its weights, its class names, and its preprocessing (input size, channels, how images are
fitted to that size, the normalisation it was trained with).

``encoder.pt`` (a metric) and ``model.pt`` (a classifier) share this format. They load with
``weights_only=True``: a file from someone else cannot run code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .._registry import registrar
from .._torchio import load_torch, save_torch
from ..errors import InputError
from .network import Network
from .registry import build_model

FORMAT = "deeplabelprop.model/1"


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the network's input: decoded to ``channels``, fitted to ``size``
    (height, width) by ``resize`` ("crop" or "squash"; with ``short_side``, the shorter side
    scaled to it before the centre crop) with ``interpolation``, scaled to [0, 1], then
    normalised."""

    size: tuple[int, int] | None  # None: any size (an encoder saved before sizes were recorded)
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    resize: str = "crop"
    short_side: int | None = None
    interpolation: str = "bilinear"

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self.mean, self.std


@dataclass(frozen=True)
class SavedModel:
    """A network and what it needs: ``build`` rebuilds it, ``classes`` names its outputs (None
    for an embedding-only encoder)."""

    network: Network
    build: dict
    preprocessing: Preprocessing
    classes: tuple[str, ...] | None
    dataset: str = ""


def save_model(
    path: str | Path,
    network: Network,
    build: dict,
    preprocessing: Preprocessing,
    *,
    classes=None,
    dataset: str = "",
) -> None:
    """Write ``path`` atomically; ``build`` holds :func:`build_model`'s arguments (name,
    in_channels, n_classes, embedding_dim, width), or name "pretrained" with the ``spec`` and
    ``pooling`` of :func:`~deeplabelprop.models.pretrained.load_pretrained` (the file then holds
    every weight, the spec gives the code)."""
    save_torch(
        path,
        {
            "format": FORMAT,
            "model": {k: v.detach().cpu() for k, v in network.state_dict().items()},
            "build": dict(build),
            "preprocessing": {
                **asdict(preprocessing),
                "size": None if preprocessing.size is None else list(preprocessing.size),
            },
            "classes": None if classes is None else [str(c) for c in classes],
            "dataset": dataset,
        },
    )


# networks saved under a build name that is not a backbone of models.registry, rebuilt from
# their build record: filled by @register_build where they are defined (models/pretrained.py,
# imported with the package), so this file imports none of them
SAVED_BUILDS: dict[str, Callable[[dict], torch.nn.Module]] = {}


# @register_build(name) on fn(build) -> Network: rebuilds networks saved with build name ``name``
register_build = registrar(SAVED_BUILDS, "saved build")


def load_model(path: str | Path, device: str = "cpu", *, what: str = "model") -> SavedModel:
    """Rebuild the network saved at ``path`` on ``device``, with its preprocessing."""
    state = _upgrade(load_torch(path, what=what), path)
    b = state["build"]
    rebuild = SAVED_BUILDS.get(b["name"])
    if rebuild is not None:  # e.g. "pretrained": the backbone's code comes from its spec
        network = rebuild(b)
    else:
        network = build_model(
            b["name"],
            b["in_channels"],
            n_classes=b["n_classes"],
            embedding_dim=b["embedding_dim"],
            width=b["width"],
        )
    load_weights(network, state["model"], source=str(path))
    p = state["preprocessing"]
    size = None if p["size"] is None else tuple(p["size"])
    pre = Preprocessing(
        size,
        p["channels"],
        tuple(p["mean"]),
        tuple(p["std"]),
        p["resize"],
        p.get("short_side"),
        p.get("interpolation", "bilinear"),
    )
    classes = None if state["classes"] is None else tuple(state["classes"])
    return SavedModel(network.to(device), dict(b), pre, classes, state.get("dataset", ""))


def _upgrade(state: dict, path) -> dict:
    """A file of this format; an ``encoder.pt`` of version 0.1 (weights, build, normalisation
    and data set name, no format tag) is read as one of unknown input size."""
    if state.get("format") == FORMAT:
        return state
    if {"model", "build", "normalization"} <= set(state):
        mean, std = state["normalization"]
        return {
            "format": FORMAT,
            "model": state["model"],
            "build": state["build"],
            "preprocessing": {
                "size": None,
                "channels": state["build"]["in_channels"],
                "mean": list(mean),
                "std": list(std),
                "resize": "crop",
            },
            "classes": None,
            "dataset": state.get("dataset", ""),
        }
    raise InputError(
        f"{path} is not a model saved by deeplabelprop ({FORMAT}); use the encoder.pt or "
        "model.pt of a run"
    )


def load_weights(network: torch.nn.Module, weights: dict, *, source: str, strict: bool = True):
    """Copy ``weights`` into ``network``; a missing key or a shape that differs is an error that
    names the first one."""
    own = network.state_dict()
    for key, value in weights.items():
        if key in own and own[key].shape != value.shape:
            raise InputError(
                f"{source} does not fit this network: {key} has shape {tuple(value.shape)}, the "
                f"network's is {tuple(own[key].shape)}; set model and width to the saved network's"
            )
    missing = [k for k in own if k not in weights]
    if strict and missing:
        raise InputError(
            f"{source} does not fit this network: it has no {missing[0]}; set model and width to "
            "the saved network's"
        )
    unexpected = [k for k in weights if k not in own]
    if unexpected:
        raise InputError(f"{source} does not fit this network: it has an extra {unexpected[0]}")
    network.load_state_dict(weights, strict=strict)
