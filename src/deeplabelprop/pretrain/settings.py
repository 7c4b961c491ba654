"""The metric stage's settings, defined once: ``deeplabelprop pretrain``, and the ``[metric]``
section of every recipe that starts from a metric, read this one dataclass."""

from __future__ import annotations

from dataclasses import dataclass

from .._params import Interval, Options
from ..config import setting
from ..models.pretrained import POOLINGS

SOURCES = ("instance", "nca", "bootstrap", "checkpoint", "pretrained", "none")
OBJECTIVES = ("memory-bank", "two-view")
NEW_IMAGES = ("embed", "retrain")


@dataclass
class MetricSettings:
    """Where the metric comes from, and how it is trained.

    ``source``: "instance" (instance discrimination, Wu et al. 2018), "nca" (DMT eq. 4 on the
    labeled set), "bootstrap" (cross-entropy on the few labels), "checkpoint" (an ``encoder.pt``
    from another run or data set: S ≠ U), "pretrained" (a pretrained backbone, ``model`` = a spec
    of :func:`~deeplabelprop.models.pretrained.load_pretrained` such as ``hf:facebook/dinov2-small``,
    its embedding taken by ``pooling``: S ≠ U), or "none" (raw pixels; ``dmt`` only).

    Defaults were chosen by measurement on Fashion-MNIST (benchmarks/RESULTS.md, issue 4): the
    two-view objective (+3.2 kNN points over the memory bank in half the time), lr 0.06, τ 0.1.
    The augmentation defaults are Wu et al.'s for natural images; the Fashion-MNIST configs use
    the milder crops, stronger jitter and random erasing that measured better there.
    """

    source: str = setting("instance", Options(SOURCES))
    objective: str = setting("two-view", Options(OBJECTIVES))
    epochs: int = setting(25, Interval(1, None, integer=True))
    lr: float = setting(0.06, Interval(0, None, closed="neither"))
    tau: float = setting(0.1, Interval(0, None, closed="neither"))
    batch_size: int = setting(256, Interval(2, None, integer=True))
    # smallest area fraction of the random resized crop (Wu et al.: 0.2)
    crop_scale: float = setting(0.2, Interval(0, 1, closed="right"))
    # brightness / contrast (/ saturation) factors in [1 - j, 1 + j] (Wu et al.: 0.4)
    jitter: float = setting(0.4, Interval(0, 1))
    # random-erasing probability (ours; Wu et al.: none)
    erase: float = setting(0.0, Interval(0, 1))
    nce_negatives: int | None = setting(None, Interval(1, None, integer=True, allow_none=True))
    embedding_dim: int = setting(128, Interval(1, None, integer=True))
    # encoder.pt of another run (source = "checkpoint")
    checkpoint: str | None = None
    # a pretrained model's spec (source = "pretrained"), and which of its outputs is the embedding
    model: str | None = None
    pooling: str = setting("auto", Options(POOLINGS))
    # when a rerun finds images added or removed: "embed" them with the trained encoder (a
    # label-free metric is kept: seconds instead of a retraining), or "retrain" the metric
    new_images: str = setting("embed", Options(NEW_IMAGES))
