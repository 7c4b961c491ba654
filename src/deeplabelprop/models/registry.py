"""Backbones by name; the CLI reads its ``--model`` choices here."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..errors import InputError
from .conv4 import Conv4
from .conv13 import Conv13
from .network import Network
from .resnet import resnet18, resnet50
from .small_cnn import SmallCNN
from .wide_resnet import WideResNet

BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "small-cnn": lambda c, width=None: SmallCNN(c, width or 32),
    "small-cnn-gn": lambda c, width=None: SmallCNN(c, width or 32, norm="group"),
    "conv4": lambda c, width=None: Conv4(c, width or 64),
    "conv13": lambda c, width=None: Conv13(c, width or 128),
    "wrn-28-2": lambda c, width=None: WideResNet(c, 28, width or 2),
    "wrn-28-10": lambda c, width=None: WideResNet(c, 28, width or 10),
    "resnet18": lambda c, width=None: resnet18(c, "cifar"),
    "resnet18-imagenet": lambda c, width=None: resnet18(c, "imagenet"),
    "resnet50": lambda c, width=None: resnet50(c, "cifar"),
    "resnet50-imagenet": lambda c, width=None: resnet50(c, "imagenet"),
}


def build_model(
    name: str,
    in_channels: int,
    *,
    n_classes: int | None = None,
    embedding_dim: int = 128,
    width: int | None = None,
) -> Network:
    """The named backbone with an embedding head (and a classifier when ``n_classes`` is given)."""
    if name not in BACKBONES:
        raise InputError(f"unknown model {name!r}; choose one of {', '.join(sorted(BACKBONES))}")
    return Network(BACKBONES[name](in_channels, width), embedding_dim, n_classes)
