"""What every recipe does the same way: the device, the classifier it trains (from a metric's
encoder or from scratch), and the outputs a user reads (model.pt, pseudo_labels.csv, test
predictions), each written atomically and recorded in run.json."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .. import distributed
from ..atomic import save_npy
from ..data import Problem
from ..data.images.stream import ImageStream
from ..errors import InputError
from ..graph.knn import default_device
from ..models import build_model
from ..models.network import Network
from ..models.pretrained import Pretrained, pretrained_build
from ..models.saved import Preprocessing, load_model, load_weights, save_model
from ..propagation import PropagationResult
from ..train import AccuracyMonitor
from .run_dir import Run


def device_of(config) -> str:
    """The configured device, else cuda when available, else cpu; under torchrun each process
    takes the GPU of its local rank."""
    device = distributed.device_for_rank(config.device or default_device())
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available; use device='cpu'")
    return device


def check_labeled_per_batch(value: int, batch_size: int, section: str) -> None:
    """``section.labeled_per_batch`` must leave room for other rows in each batch."""
    if not 0 <= value < batch_size:
        raise InputError(
            f"{section}.labeled_per_batch must be in [0, batch_size={batch_size}), got {value}; "
            f"lower it or raise {section}.batch_size"
        )


def classifier_model(
    config, problem: Problem, device: str, *, encoder: str | Path | None = None
) -> tuple[Network, tuple]:
    """(the recipe's classifier, its input normalisation), seeded by ``config.seed``; its
    backbone and embedding head taken from ``encoder`` when given (the classifier itself starts
    fresh), and then the encoder's normalisation too."""
    train_set = problem.train
    saved = None if encoder is None else load_model(encoder, "cpu", what="encoder")
    torch.manual_seed(config.seed)
    if saved is not None and saved.build["name"] == "pretrained":  # the backbone as saved
        saved.network.set_classifier(len(train_set.classes))
        return saved.network.to(device), saved.preprocessing.normalization
    if saved is None:
        network = build_model(
            config.model, train_set.shape[2], n_classes=len(train_set.classes), width=config.width
        )
        return network.to(device), train_set.normalization
    network = from_encoder(saved, encoder, config, train_set.shape[2], len(train_set.classes))
    return network.to(device), saved.preprocessing.normalization


def from_encoder(saved, source, config, in_channels: int, n_classes: int) -> Network:
    """A fresh ``config.model`` classifier (of ``config.width``) with the backbone and embedding
    head of the saved encoder ``saved`` (read from ``source``); an encoder of another model or
    width is an error that says which to set."""
    network = build_model(
        config.model,
        in_channels,
        n_classes=n_classes,
        embedding_dim=saved.build["embedding_dim"],
        width=config.width,
    )
    weights = {
        k: v for k, v in saved.network.state_dict().items() if not k.startswith("classifier")
    }
    b = saved.build
    refused = InputError(
        f"{source} is an encoder of model {b['name']!r}, width {b.get('width')}, which model "
        f"{config.model!r} of width {config.width} cannot take: set model = {b['name']!r} and "
        f"width = {b.get('width')} (--set model={b['name']} --set width={b.get('width')})"
    )
    try:
        load_weights(network, weights, source=str(source), strict=False)
    except InputError:
        raise refused from None
    if any(k not in weights for k in network.state_dict() if not k.startswith("classifier")):
        raise refused
    return network


def save_classifier(run: Run, network: Network, problem: Problem, normalization, config) -> None:
    """``model.pt``: the trained classifier with its classes and preprocessing (``predict``)."""
    train_set = problem.train
    mean, std = normalization
    if isinstance(network.backbone, Pretrained):
        build = pretrained_build(network.backbone, train_set.shape[2], len(train_set.classes))
    else:
        build = {
            "name": config.model,
            "in_channels": train_set.shape[2],
            "n_classes": len(train_set.classes),
            "embedding_dim": network.embedding.out_features,
            "width": config.width,
        }
    save_model(
        run.path / "model.pt",
        network,
        build,
        Preprocessing(train_set.shape[:2], train_set.shape[2], mean, std, config.resize),
        classes=train_set.classes,
        dataset=train_set.name,
    )
    run.output("model", "model.pt")


def save_test_predictions(run: Run, network, monitor: AccuracyMonitor, stream: ImageStream) -> None:
    """``test_predictions.npy``: the final model's class for every test image (the report's
    per-class test accuracy is computed from it)."""
    save_npy(run.path / "test_predictions.npy", monitor.predict(network, stream).astype(np.int64))
    run.output("test_predictions", "test_predictions.npy")


def write_pseudo_labels(run: Run, result: PropagationResult, problem: Problem, source: str) -> None:
    """``pseudo_labels.csv``: one row per training image, by file (see
    :meth:`PropagationResult.save_csv`); ``source`` is the run's file of the full result."""
    result.save_csv(run.path / "pseudo_labels.csv", problem.train.example_names(), problem.classes)
    run.output("pseudo_labels_csv", "pseudo_labels.csv")
    run.output("pseudo_labels", source)


def pseudo_label_scores(result: PropagationResult, problem: Problem) -> dict:
    """The estimated accuracy of the pseudo labels on the unlabeled images (overall and per
    class, with 95 % intervals; from the calibrated confidence, no truth needed), and, when the
    truth is known (a benchmark set), their accuracy and DMT's mAP by weight."""
    out = {}
    if result.estimated_accuracy is not None:
        out["estimated_accuracy"] = result.estimated_accuracy.to_dict(list(problem.classes))
    if problem.truth is None:
        return out
    from ..evaluate import pseudo_label_accuracy, pseudo_label_map

    unl = problem.given < 0
    return {
        **out,
        "pseudo_label_accuracy": pseudo_label_accuracy(result.labels, problem.truth, unl),
        "pseudo_label_map": pseudo_label_map(result.weights, result.labels, problem.truth, unl),
    }


def stage_seconds(run: Run) -> dict:
    """Seconds each stage of the run took (the last time it ran)."""
    return {k: v.get("seconds") for k, v in run.record["stages"].items()}
