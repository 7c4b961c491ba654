"""``deeplabelprop pretrain``: train a metric, then write the encoder and ``features.npy``.

The run directory holds config.json, metrics.jsonl, checkpoint.pt (every epoch, for --resume),
encoder.pt (weights and how to rebuild the model), features.npy (N × D unit embeddings of the
training images, no augmentation: the input of ``deeplabelprop propagate``), targets.npy and
results.json (the last epoch's metrics; with a test split also ``knn_accuracy_recomputed``, the
weighted kNN against features.npy rather than the bank, Wu et al.'s figure at the end of training).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path, save_npy
from ..data import ImageDataset, InstanceAugment, ShiftFlip, Split, load_dataset, make_split
from ..data.stream import ImageStream
from ..errors import InputError
from ..graph.knn import default_device
from ..models import build_model
from ..train import TrainConfig, save_checkpoint, train
from .monitor import KnnMonitor
from .tasks import InstanceDiscrimination, NCAPretraining, SupervisedBootstrap

logger = logging.getLogger(__name__)

METHODS = ("instance", "nca", "bootstrap")


@dataclass
class PretrainConfig:
    dataset: str = "fashion-mnist"
    model: str = "small-cnn"
    method: str = "instance"
    epochs: int = 25
    lr: float = 0.03
    batch_size: int = 256
    tau: float = 0.1
    nce_negatives: int | None = None
    objective: str = "memory-bank"  # instance only: or "two-view"
    crop_scale: float = 0.2  # smallest area fraction of the random resized crop (Wu et al.: 0.2)
    # brightness / contrast (/ saturation) factors in [1 - j, 1 + j] (Wu et al.: 0.4)
    jitter: float = 0.4
    erase: float = 0.0  # random-erasing probability (ours; Wu et al.: none)
    embedding_dim: int = 128
    width: int | None = None
    n_labeled: int = 100  # bootstrap only
    seed: int = 0
    data_dir: str | None = None
    device: str | None = None


def check_augmentation(crop_scale: float, jitter: float, erase: float, prefix: str = "") -> None:
    """The augmentation strengths must make sense before anything is written; ``prefix`` names
    the config table in the message (e.g. ``"metric."``)."""
    if not 0 < crop_scale <= 1:
        raise InputError(
            f"{prefix}crop_scale must be in (0, 1] (an area fraction), got {crop_scale}"
        )
    if not 0 <= jitter <= 1:
        raise InputError(
            f"{prefix}jitter must be in [0, 1] (factors in [1 - j, 1 + j]), got {jitter}"
        )
    if not 0 <= erase <= 1:
        raise InputError(f"{prefix}erase must be a probability in [0, 1], got {erase}")


def run_pretraining(
    cfg: PretrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = True,
    progress: bool = True,
    images: tuple[ImageDataset, ImageDataset | None] | None = None,
    split: Split | None = None,
) -> dict:
    """Pretrain as configured; returns the final metrics. Resumes from ``out_dir`` when possible."""
    if cfg.method not in METHODS:
        raise InputError(
            f"unknown pretraining method {cfg.method!r}; choose one of {', '.join(METHODS)}"
        )
    check_augmentation(cfg.crop_scale, cfg.jitter, cfg.erase)
    out = Path(out_dir)
    device = cfg.device or default_device()
    if images is not None:  # already loaded (and perhaps subset) by a recipe
        train_set, test_set = images
    else:
        train_set = load_dataset(cfg.dataset, "train", cfg.data_dir)
        try:
            test_set = load_dataset(cfg.dataset, "test", cfg.data_dir)
        except InputError:
            test_set = None  # e.g. digits: no test split, no monitor
    n_classes = len(train_set.classes)
    monitor = None if test_set is None else KnnMonitor(test_set.images, test_set.labels, n_classes)
    torch.manual_seed(cfg.seed)
    channels = train_set.shape[2]
    with_classifier = n_classes if cfg.method == "bootstrap" else None
    model = build_model(
        cfg.model,
        channels,
        n_classes=with_classifier,
        embedding_dim=cfg.embedding_dim,
        width=cfg.width,
    ).to(device)
    stream = ImageStream(
        train_set.images,
        InstanceAugment(scale=(cfg.crop_scale, 1.0), jitter=cfg.jitter, erase=cfg.erase),
        cfg.batch_size,
        cfg.seed,
        device,
        cfg.dataset,
    )
    if cfg.method == "instance":
        task = InstanceDiscrimination(
            stream,
            tau=cfg.tau,
            n_negatives=cfg.nce_negatives,
            embedding_dim=cfg.embedding_dim,
            objective=cfg.objective,
            monitor=monitor,
            train_labels=train_set.labels,
        )
    elif cfg.method == "nca":
        task = NCAPretraining(
            stream, train_set.labels, tau=cfg.tau, embedding_dim=cfg.embedding_dim, monitor=monitor
        )
    else:
        if split is None:
            split = make_split(
                train_set.labels, cfg.n_labeled, seed=cfg.seed, dataset=train_set.name
            )
        labeled = ImageStream(
            train_set.images[split.labeled],
            ShiftFlip(),
            cfg.batch_size,
            cfg.seed,
            device,
            cfg.dataset,
        )
        task = SupervisedBootstrap(
            labeled,
            train_set.labels[split.labeled],
            monitor=monitor,
            reference=(stream, train_set.labels),
        )
    config = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, seed=cfg.seed, progress=progress)
    metrics = train(model, task, config, out, resume=resume, extra_config={"pretrain": asdict(cfg)})
    embeddings = stream.embed(model)  # the training images without augmentation
    if monitor is not None:
        # Wu et al.'s final figure (their code's kNN with recompute_memory=1): the memory is the
        # clean embeddings of the training images, not the bank of augmented views
        recomputed = monitor(model, stream, embeddings, train_set.labels)["knn_accuracy"]
        metrics = {**metrics, "knn_accuracy_recomputed": recomputed}
    features = embeddings.cpu().numpy()
    save_checkpoint(
        out / "encoder.pt",
        {
            "model": model.state_dict(),
            "build": {
                "name": cfg.model,
                "in_channels": channels,
                "embedding_dim": cfg.embedding_dim,
                "width": cfg.width,
                "n_classes": with_classifier,
            },
            "normalization": (stream.mean, stream.std),
            "dataset": cfg.dataset,
        },
    )
    save_npy(out / "features.npy", features.astype(np.float32))
    save_npy(out / "targets.npy", train_set.labels)
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=1))
    return metrics
