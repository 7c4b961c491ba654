"""The metric stage: train a metric on a problem's training images, then write ``encoder.pt``
(the network and its preprocessing) and ``features.npy`` (N × D unit embeddings of the training
images, no augmentation: what propagation runs on), and ``results.json`` (the last epoch's
metrics; with a test set also ``knn_accuracy_recomputed``, the weighted kNN against
features.npy rather than the bank: Wu et al.'s figure at the end of training).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path, save_npy
from ..config import to_dict
from ..data import InstanceAugment, Problem, ShiftFlip
from ..data.images.stream import ImageStream
from ..models import build_model
from ..models.saved import Preprocessing, save_model
from ..train import TrainConfig, train
from .monitor import KnnMonitor
from .settings import MetricSettings
from .tasks import InstanceDiscrimination, NCAPretraining, SupervisedBootstrap

logger = logging.getLogger(__name__)


def metric_task(m: MetricSettings, problem: Problem, labels: np.ndarray, stream, device, monitor):
    """The pretraining task of ``m.source`` (instance, nca, bootstrap); ``labels`` (-1 unknown)
    are the labels it may use; the monitor's memory is labeled with the truth where known."""
    train_set = problem.train
    memory = problem.truth if problem.truth is not None else labels
    if m.source == "instance":
        return InstanceDiscrimination(
            stream,
            tau=m.tau,
            n_negatives=m.nce_negatives,
            embedding_dim=m.embedding_dim,
            objective=m.objective,
            monitor=monitor,
            train_labels=memory,
        )
    if m.source == "nca":
        if (labels < 0).any():  # batches of labeled images only (the bank keeps every row)
            stream = replace(stream, indices=np.flatnonzero(labels >= 0))
        return NCAPretraining(
            stream, labels, tau=m.tau, embedding_dim=m.embedding_dim, monitor=monitor
        )
    labeled = np.flatnonzero(labels >= 0)
    labeled_stream = ImageStream(
        train_set.images,
        ShiftFlip(),
        m.batch_size,
        stream.seed,
        device,
        train_set.normalization,
        indices=labeled,
        num_workers=stream.num_workers,
    )
    return SupervisedBootstrap(labeled_stream, labels, monitor=monitor, reference=(stream, memory))


def save_encoder(
    path: Path, network, build: dict, train_set, m: MetricSettings, resize: str
) -> None:
    """``encoder.pt``: the metric network with its preprocessing (and classes for bootstrap)."""
    mean, std = train_set.normalization
    save_model(
        path,
        network,
        build,
        Preprocessing(train_set.shape[:2], train_set.shape[2], mean, std, resize),
        classes=train_set.classes if m.source == "bootstrap" else None,
        dataset=train_set.name,
    )


def metric_network(m: MetricSettings, model: str, width, channels: int, n_classes: int, device):
    """(the network the metric trains, its build record): a classifier head only for the
    bootstrap source."""
    build = {
        "name": model,
        "in_channels": channels,
        "n_classes": n_classes if m.source == "bootstrap" else None,
        "embedding_dim": m.embedding_dim,
        "width": width,
    }
    network = build_model(
        model, channels, n_classes=build["n_classes"], embedding_dim=m.embedding_dim, width=width
    ).to(device)
    return network, build


def train_metric(
    m: MetricSettings,
    problem: Problem,
    out: str | Path,
    *,
    model: str,
    width: int | None,
    seed: int,
    device: str,
    labels: np.ndarray | None = None,
    num_workers: int = 0,
    progress: bool = False,
    resize: str = "crop",
    mixed_precision: bool | None = None,
) -> dict:
    """Train the metric ``m`` (source instance, nca or bootstrap) into ``out``; returns the final
    metrics. Resumes from ``out/checkpoint.pt`` when a run was killed. ``labels`` (default: the
    problem's given labels) are the labels NCA and bootstrap may use; ``mixed_precision``: see
    :class:`~deeplabelprop.train.TrainConfig`."""
    out = Path(out)
    train_set, test_set = problem.train, problem.test
    labels = problem.given if labels is None else np.asarray(labels)
    n_classes = len(train_set.classes)
    known = problem.truth if problem.truth is not None else labels  # the monitor's memory labels
    monitor = None  # Wu et al.'s weighted kNN needs labeled training images to vote
    if test_set is not None and (np.asarray(known) >= 0).any():
        monitor = KnnMonitor(test_set.images, test_set.labels, n_classes)
    torch.manual_seed(seed)
    network, build = metric_network(m, model, width, train_set.shape[2], n_classes, device)
    stream = ImageStream(
        train_set.images,
        InstanceAugment(scale=(m.crop_scale, 1.0), jitter=m.jitter, erase=m.erase),
        m.batch_size,
        seed,
        device,
        train_set.normalization,
        num_workers=num_workers,
    )
    task = metric_task(m, problem, labels, stream, device, monitor)
    config = TrainConfig(
        epochs=m.epochs, lr=m.lr, seed=seed, progress=progress, mixed_precision=mixed_precision
    )
    settings = {"metric": to_dict(m), "model": model, "width": width, "seed": seed}
    metrics = train(network, task, config, out, extra_config=settings)
    embeddings = stream.embed(network)  # the training images without augmentation
    if monitor is not None:
        # Wu et al.'s final figure (their code's kNN with recompute_memory=1): the memory is the
        # clean embeddings of the training images, not the bank of augmented views
        recomputed = monitor(network, stream, embeddings, known)["knn_accuracy"]
        metrics = {**metrics, "knn_accuracy_recomputed": recomputed}
    save_encoder(out / "encoder.pt", network, build, train_set, m, resize)
    save_npy(out / "features.npy", embeddings.cpu().numpy().astype(np.float32))
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=1))
    return metrics
