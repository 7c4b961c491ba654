"""Pretrained backbones as the transferred metric (DMT §4.2: the metric learned elsewhere,
S ≠ U), each loaded by the library made for it, with the preprocessing it was trained with.

Model specs (``load_pretrained(spec)``):

* ``hf:NAME_OR_PATH``: a Hugging Face ``transformers`` vision model (DINOv2, ViT, ConvNeXt, the
  vision tower of CLIP, ...) by hub name or saved folder, through ``AutoModel`` and
  ``AutoImageProcessor``; the preprocessing is the processor's. ``pooling`` picks the
  embedding: ``"cls"`` (the first token), ``"pooled"`` (the model's ``pooler_output``),
  ``"mean"`` (the mean of the other tokens, or of the spatial map of a CNN), ``"auto"``
  (``pooler_output`` where the model has one, else CLS / the spatial mean). CLIP models give
  their image embedding (``get_image_features``).
* ``torchscript:PATH``: a TorchScript module mapping (B, 3, H, W) normalised images to (B, D);
  its preprocessing is read from the extra file ``preprocessing.json`` saved with it
  (``torch.jit.save(m, PATH, _extra_files={"preprocessing.json": json.dumps({"size": [224,
  224], "mean": [...], "std": [...]})})``; optional keys ``short_side``, ``interpolation``,
  ``resize``).
* ``resnet18:PATH`` / ``resnet50:PATH``: torchvision's ImageNet ResNet weights (a state-dict
  file such as ``resnet18-f37072fd.pth``) loaded into this package's ResNet by a key mapping,
  so torchvision need not be installed; preprocessing torchvision's documented ImageNet
  transform (resize 256, centre crop 224, bilinear, ImageNet mean and std).
* ``encoder:PATH``: an ``encoder.pt`` (or ``model.pt``) of this package: its unit embedding.

Optional packages are imported through :mod:`deeplabelprop._optional` (one clear error when
missing).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import torch
import torch.nn.functional as F
from torch import nn

from .._optional import require
from .._registry import registrar
from .._torchio import load_torch
from ..errors import InputError
from .network import Network
from .resnet import ResNet, resnet18, resnet50
from .saved import Preprocessing, load_model, load_weights, register_build

logger = logging.getLogger(__name__)

POOLINGS = ("auto", "cls", "pooled", "mean")

# the kinds of ``KIND:NAME_OR_PATH`` specs: loader(name_or_path, pooling) -> Pretrained
MODEL_KINDS: dict[str, Callable[[str, str], Pretrained]] = {}


# @register_model_kind(kind) on a loader of kind:NAME_OR_PATH specs; pooling is checked before
# (only hf: takes one other than "auto")
register_model_kind = registrar(MODEL_KINDS, "model kind")


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
#: torchvision's ImageNet evaluation transform for its ResNet (V1) weights
TORCHVISION_IMAGENET = Preprocessing(
    (224, 224), 3, IMAGENET_MEAN, IMAGENET_STD, "crop", 256, "bilinear"
)
_RESAMPLE = {2: "bilinear", 3: "bicubic"}  # PIL resample codes the processors use


def fit_tensor(x: torch.Tensor, pre: Preprocessing) -> torch.Tensor:
    """A batch (B, C, H, W) of any size fitted to ``pre.size`` as a decoded image would be
    (the shorter side scaled to fit and the centre cut, or squashed), grey repeated to RGB."""
    if x.shape[1] == 1 and pre.channels == 3:
        x = x.expand(-1, 3, -1, -1)
    h, w = pre.size
    if tuple(x.shape[-2:]) == (h, w):
        return x
    mode = pre.interpolation
    if pre.resize == "squash":
        return F.interpolate(x, size=(h, w), mode=mode, antialias=True, align_corners=False)
    scale = max(h / x.shape[-2], w / x.shape[-1])
    sh, sw = max(h, round(x.shape[-2] * scale)), max(w, round(x.shape[-1] * scale))
    x = F.interpolate(x, size=(sh, sw), mode=mode, antialias=True, align_corners=False)
    top, left = (sh - h) // 2, (sw - w) // 2
    return x[..., top : top + h, left : left + w]


class Pretrained(nn.Module):
    """A pretrained backbone behind this package's backbone interface: ``forward`` takes images
    normalised with ``preprocessing``'s mean and std, at any size (fitted to the model's input
    by :func:`fit_tensor`), and returns the ℓ2-normalised embedding (B, ``out_dim``)."""

    def __init__(self, body: nn.Module, preprocessing: Preprocessing, spec: str, pooling: str):
        super().__init__()
        self.body, self.preprocessing = body, preprocessing
        self.spec, self.pooling = spec, pooling
        self.eval()  # as loaded: eval mode (a training loop switches it)
        with torch.no_grad():
            probe = torch.zeros(1, preprocessing.channels, *preprocessing.size)
            self.out_dim = int(body(probe).shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.body(fit_tensor(x, self.preprocessing)), dim=1)


# -- Hugging Face -------------------------------------------------------------------------------
class _HFBody(nn.Module):
    """A ``transformers`` model's pooled image embedding."""

    def __init__(self, model: nn.Module, pooling: str):
        super().__init__()
        self.model, self.pooling = model, pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self.model, "get_image_features"):  # CLIP-like: the joint embedding space
            out = self.model.get_image_features(pixel_values=x)
            return out if torch.is_tensor(out) else out.pooler_output
        out = self.model(pixel_values=x)
        pooled = getattr(out, "pooler_output", None)
        if self.pooling == "pooled" or (self.pooling == "auto" and pooled is not None):
            if pooled is None:
                raise InputError(
                    f"{type(self.model).__name__} has no pooler_output; use pooling 'cls' or 'mean'"
                )
            return pooled.flatten(1)
        h = out.last_hidden_state
        if h.ndim == 4:  # a CNN's map (B, C, H, W)
            if self.pooling == "cls":
                raise InputError(f"{type(self.model).__name__} has no CLS token; use 'mean'")
            return h.mean(dim=(2, 3))
        return h[:, 0] if self.pooling in ("cls", "auto") else h[:, 1:].mean(dim=1)


def _hf_preprocessing(processor, name: str) -> Preprocessing:
    """The processor's resize, crop and normalisation as a :class:`Preprocessing`; a processor
    whose steps this cannot reproduce exactly is an error, never a guess."""

    def size_of(s) -> dict:
        return {
            k: getattr(s, k, None) if not isinstance(s, dict) else s.get(k)
            for k in ("height", "width", "shortest_edge")
        }

    def refuse(why: str) -> InputError:
        return InputError(
            f"hf:{name}: the image processor {type(processor).__name__} {why}; this package "
            "cannot reproduce it exactly: export the model with torch.jit.script and use "
            "torchscript:PATH with a preprocessing.json"
        )

    if (
        getattr(processor, "do_rescale", True)
        and abs(getattr(processor, "rescale_factor", 1 / 255) - 1 / 255) > 1e-12
    ):
        raise refuse(f"rescales by {processor.rescale_factor}, not 1/255")
    resample = int(getattr(processor, "resample", 2))
    if resample not in _RESAMPLE:
        raise refuse(f"resizes with PIL resample code {resample}")
    size = size_of(getattr(processor, "size", None) or {})
    crop = size_of(getattr(processor, "crop_size", None) or {})
    center = getattr(processor, "do_center_crop", False)
    crop_pct = getattr(processor, "crop_pct", None)
    if not getattr(processor, "do_resize", True):
        raise refuse("does not resize")
    if size["shortest_edge"] and center and crop["height"]:
        shape, short = (crop["height"], crop["width"]), size["shortest_edge"]
    elif size["shortest_edge"] and crop_pct and size["shortest_edge"] < 384:
        # ConvNeXt below 384 px: the shorter side to shortest_edge / crop_pct, then the centre
        shape = (size["shortest_edge"],) * 2
        short = int(size["shortest_edge"] / crop_pct)
    elif size["height"] and size["width"] and not center:
        return Preprocessing(
            (size["height"], size["width"]),
            3,
            *_hf_normalisation(processor),
            "squash",
            None,
            _RESAMPLE[resample],
        )
    else:
        raise refuse(f"has size {size}, crop {crop}, centre crop {center}")
    return Preprocessing(
        shape, 3, *_hf_normalisation(processor), "crop", short, _RESAMPLE[resample]
    )


def _hf_normalisation(processor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if not getattr(processor, "do_normalize", True):
        return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    mean, std = processor.image_mean, processor.image_std
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


@register_model_kind("hf")
def _load_hf(name: str, pooling: str) -> Pretrained:
    transformers = require("transformers")
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    local = Path(name).expanduser()
    source = str(local) if local.is_dir() else name
    if not local.is_dir() and (name.startswith(("/", ".", "~")) or name.count("/") > 1):
        raise InputError(
            f"hf:{name}: no such folder; a local model is a folder saved with save_pretrained, "
            "a hub model is NAME or ORG/NAME"
        )
    if not local.is_dir():
        from huggingface_hub import constants, try_to_load_from_cache
        from huggingface_hub.utils import logging as hub_logging

        hub_logging.set_verbosity_error()
        if not isinstance(try_to_load_from_cache(name, "config.json"), str):
            if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
                raise InputError(_offline_message(name, "it is not in the local cache"))
            if not _reachable(constants.ENDPOINT):  # the hub's retries would take half a minute
                raise InputError(_offline_message(name, f"{constants.ENDPOINT} cannot be reached"))
    try:
        model = transformers.AutoModel.from_pretrained(source)
        processor = transformers.AutoImageProcessor.from_pretrained(source)
    except OSError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(_offline_message(name, first)) from None
    if getattr(model.config, "is_encoder_decoder", False):
        raise InputError(f"hf:{name} is not a vision encoder")
    return Pretrained(
        _HFBody(model.eval(), pooling), _hf_preprocessing(processor, name), f"hf:{name}", pooling
    )


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout`` seconds."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _offline_message(name: str, why: str) -> str:
    return (
        f"hf:{name} cannot be loaded ({why}); give a folder saved with save_pretrained "
        f"(hf:/path/to/model), or download it once where there is a network (it is then cached "
        f"and HF_HUB_OFFLINE=1 uses the cache)"
    )


# -- TorchScript ----------------------------------------------------------------------------------
@register_model_kind("torchscript")
def _load_torchscript(path: str, pooling: str = "auto") -> Pretrained:
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(f"torchscript:{path}: no such file")
    extra = {"preprocessing.json": ""}
    try:
        module = torch.jit.load(str(file), map_location="cpu", _extra_files=extra)
    except RuntimeError as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise InputError(f"torchscript:{path} is not a TorchScript file ({first})") from None
    if not extra["preprocessing.json"]:
        raise InputError(
            f"torchscript:{path} has no preprocessing.json: save it with torch.jit.save(m, PATH, "
            '_extra_files={"preprocessing.json": json.dumps({"size": [224, 224], "mean": [...], '
            '"std": [...]})}) so that images are prepared as the model expects'
        )
    try:
        p = json.loads(extra["preprocessing.json"])
        pre = Preprocessing(
            tuple(int(v) for v in p["size"]),
            int(p.get("channels", 3)),
            tuple(float(v) for v in p["mean"]),
            tuple(float(v) for v in p["std"]),
            p.get("resize", "crop"),
            p.get("short_side"),
            p.get("interpolation", "bilinear"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"torchscript:{path}: preprocessing.json must hold size [h, w], mean and std ({exc})"
        ) from None
    return Pretrained(module.eval(), pre, f"torchscript:{path}", "auto")


# -- torchvision ResNet weights -----------------------------------------------------------------
def torchvision_resnet_keys(weights: dict, blocks: list[int]) -> dict:
    """torchvision's ResNet state-dict keys renamed to this package's :class:`ResNet` (the
    classifier ``fc`` dropped): ``conv1``/``bn1`` → ``stem.0``/``stem.1``, ``layerI.J`` → ``layers.K``
    with K the block's index over all stages, ``downsample`` → ``down``."""
    starts = [sum(blocks[:i]) for i in range(len(blocks))]
    out = {}
    for key, value in weights.items():
        head, _, rest = key.partition(".")
        if head == "fc":
            continue
        if head == "conv1":
            out[f"stem.0.{rest}"] = value
        elif head == "bn1":
            out[f"stem.1.{rest}"] = value
        elif head.startswith("layer") and head[5:].isdigit():
            block, _, inner = rest.partition(".")
            k = starts[int(head[5:]) - 1] + int(block)
            out[f"layers.{k}.{inner.replace('downsample.', 'down.')}"] = value
        else:
            raise InputError(f"{key} is not a key of torchvision's ResNet")
    return out


def _load_resnet(arch: str, path: str) -> Pretrained:
    build: Callable[..., ResNet] = {"resnet18": resnet18, "resnet50": resnet50}[arch]
    blocks = [2, 2, 2, 2] if arch == "resnet18" else [3, 4, 6, 3]
    weights = load_torch(Path(path).expanduser(), what="weights")
    if isinstance(weights, dict) and "state_dict" in weights:
        weights = weights["state_dict"]
    net = build(3, "imagenet")
    load_weights(net, torchvision_resnet_keys(weights, blocks), source=f"{arch}:{path}")
    return Pretrained(net.eval(), TORCHVISION_IMAGENET, f"{arch}:{path}", "auto")


@register_model_kind("resnet18")
def _load_resnet18(path: str, pooling: str = "auto") -> Pretrained:
    return _load_resnet("resnet18", path)


@register_model_kind("resnet50")
def _load_resnet50(path: str, pooling: str = "auto") -> Pretrained:
    return _load_resnet("resnet50", path)


# -- this package's encoders ----------------------------------------------------------------------
class _EncoderBody(nn.Module):
    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.embed(x)


@register_model_kind("encoder")
def _load_encoder(path: str, pooling: str = "auto") -> Pretrained:
    saved = load_model(Path(path).expanduser(), what="encoder")
    pre = saved.preprocessing
    if pre.size is None:
        raise InputError(f"encoder:{path} does not record its input size; retrain it")
    return Pretrained(_EncoderBody(saved.network.eval()), pre, f"encoder:{path}", "auto")


def load_pretrained(spec: str, pooling: str = "auto") -> Pretrained:
    """The model named by ``spec`` (see the module's docstring), on the CPU, in eval mode."""
    if pooling not in POOLINGS:
        raise InputError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    kind, sep, rest = spec.partition(":")
    kinds = ", ".join(f"{k}:" for k in MODEL_KINDS)
    if not sep or not rest:
        raise InputError(f"model {spec!r}: give KIND:NAME_OR_PATH, KIND one of {kinds}")
    if kind in ("torchvision", "timm"):
        raise InputError(
            f"model {spec!r}: {kind}: models are not loaded directly; for torchvision's ResNets "
            "give resnet18:WEIGHTS or resnet50:WEIGHTS (no torchvision needed), for any other "
            "export the model with torch.jit.script and give torchscript:PATH with a "
            "preprocessing.json"
        )
    if kind not in MODEL_KINDS:
        raise InputError(f"model {spec!r}: unknown kind {kind!r}; give {kinds}")
    if pooling != "auto" and kind != "hf":
        raise InputError(f"pooling applies to hf: models only; {kind}: models give one embedding")
    return MODEL_KINDS[kind](rest, pooling)


@register_build("pretrained")
def _rebuild(build: dict) -> Network:
    """A saved network whose build names a pretrained backbone: its code and first weights
    come from the spec (``load_model`` then loads the saved weights into it)."""
    return pretrained_network(build["spec"], build.get("pooling", "auto"), build["n_classes"])


def pretrained_network(spec: str, pooling: str = "auto", n_classes: int | None = None) -> Network:
    """A :class:`Network` on the pretrained backbone whose embedding head starts as the identity,
    so that its ``embed`` is the pretrained embedding (and a memory bank of it fits)."""
    backbone = load_pretrained(spec, pooling)
    network = Network(backbone, backbone.out_dim, n_classes)
    with torch.no_grad():
        network.embedding.weight.copy_(torch.eye(backbone.out_dim))
        network.embedding.bias.zero_()
    return network


def pretrained_build(backbone: Pretrained, in_channels: int, n_classes: int | None) -> dict:
    """How ``save_model`` records a network on a pretrained backbone (rebuilt from its spec)."""
    return {
        "name": "pretrained",
        "spec": backbone.spec,
        "pooling": backbone.pooling,
        "in_channels": in_channels,
        "n_classes": n_classes,
        "embedding_dim": backbone.out_dim,
        "width": None,
    }
