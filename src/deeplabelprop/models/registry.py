"""Backbones by name; the CLI reads its ``--model`` choices here."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .._registry import registrar
from ..errors import InputError
from .conv4 import Conv4
from .conv13 import Conv13
from .network import Network
from .resnet import resnet18, resnet50
from .small_cnn import SmallCNN
from .wide_resnet import WideResNet

BACKBONES: dict[str, Callable[..., nn.Module]] = {}


# @register_backbone(name) on build(in_channels, width=None) -> nn.Module
register_backbone = registrar(BACKBONES, "backbone")


@register_backbone("small-cnn")
def _small_cnn(c: int, width: int | None = None) -> nn.Module:
    return SmallCNN(c, width or 32)


@register_backbone("small-cnn-gn")
def _small_cnn_gn(c: int, width: int | None = None) -> nn.Module:
    return SmallCNN(c, width or 32, norm="group")


@register_backbone("conv4")
def _conv4(c: int, width: int | None = None) -> nn.Module:
    return Conv4(c, width or 64)


@register_backbone("conv13")
def _conv13(c: int, width: int | None = None) -> nn.Module:
    return Conv13(c, width or 128)


@register_backbone("wrn-28-2")
def _wrn_28_2(c: int, width: int | None = None) -> nn.Module:
    return WideResNet(c, 28, width or 2)


@register_backbone("wrn-28-10")
def _wrn_28_10(c: int, width: int | None = None) -> nn.Module:
    return WideResNet(c, 28, width or 10)


@register_backbone("resnet18")
def _resnet18(c: int, width: int | None = None) -> nn.Module:
    return resnet18(c, "cifar")


@register_backbone("resnet18-imagenet")
def _resnet18_imagenet(c: int, width: int | None = None) -> nn.Module:
    return resnet18(c, "imagenet")


@register_backbone("resnet50")
def _resnet50(c: int, width: int | None = None) -> nn.Module:
    return resnet50(c, "cifar")


@register_backbone("resnet50-imagenet")
def _resnet50_imagenet(c: int, width: int | None = None) -> nn.Module:
    return resnet50(c, "imagenet")


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
