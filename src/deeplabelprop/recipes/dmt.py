"""Recipe ``dmt``: Deep Metric Transfer (Liu et al. 2019) end to end.

Stage 1, metric: instance discrimination on the training images (S = U), NCA or bootstrap, or an
encoder from another run or data set (S ≠ U). Stage 2, propagate: any registered propagator on
the embeddings, pseudo labels with DMT's margin confidence (eq. 8-9). Stage 3, finetune: a
classifier initialised from the metric encoder, trained on the labels and the pseudo labels
weighted by their confidence (eq. 10), dropping confidence below 0.01, or on the top ratio of
pseudo labels (the released code's variant).

Every stage writes into the run directory and is skipped when its output exists, so running the
same command after a kill continues where it stopped (stages resume inside via checkpoints).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, save_npz
from ..data import ImageStream, ShiftFlip
from ..errors import InputError
from ..evaluate import pseudo_label_accuracy, pseudo_label_map
from ..graph.knn import default_device
from ..propagation import PROPAGATORS, make_propagator, margin_confidence, select_confident
from ..propagation.confidence import DMT_SIGMA
from ..train import AccuracyMonitor, TrainConfig, WeightedClassification, train
from .common import (
    MetricSettings,
    RecipeConfig,
    check_labeled_per_batch,
    check_metric_settings,
    classifier_model,
    metric_stage,
    run_split,
    save_test_predictions,
    train_and_test,
)

logger = logging.getLogger(__name__)


@dataclass
class PropagateSettings:
    method: str = "spectral"
    n_neighbors: int | None = None
    n_components: int | None = None
    alpha: float | None = None
    confidence_temperature: float = 1.0 / DMT_SIGMA


@dataclass
class FinetuneSettings:
    epochs: int = 20
    lr: float = 0.05
    batch_size: int = 128
    use_pseudo_labels: bool = True  # False: labels only (DMT Table 2 "no propagation")
    min_confidence: float = 0.01  # DMT §3.3: drop α < 0.01
    top_ratio: float | None = None  # released code: keep only the most confident ratio, weight 1
    per_class: bool = False  # top_ratio within each pseudo class (the confident set keeps them all)
    # true labels in every batch (the rest pseudo labels); 0: batches uniform over all rows (DMT)
    labeled_per_batch: int = 0
    shift: int = 2
    # examples per epoch (a smaller labeled set is cycled); None: the training set size, so that
    # "no propagation" trains as many steps as the pseudo-labeled runs
    epoch_size: int | None = None


@dataclass
class DMTConfig(RecipeConfig):
    metric: MetricSettings = field(default_factory=MetricSettings)
    propagate: PropagateSettings = field(default_factory=PropagateSettings)
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)


def run_dmt(cfg: DMTConfig, out_dir: str | Path, *, progress: bool = False) -> dict:
    """Run (or resume) the three stages into ``out_dir``; returns the final results."""
    check_metric_settings(cfg.metric, "metric")
    check_labeled_per_batch(cfg.finetune.labeled_per_batch, cfg.finetune.batch_size, "finetune")
    if cfg.propagate.method not in PROPAGATORS:
        raise InputError(
            f"unknown propagator {cfg.propagate.method!r}; choose one of {', '.join(sorted(PROPAGATORS))}"
        )
    out = Path(out_dir)  # created only once the settings are known to be valid
    out.mkdir(parents=True, exist_ok=True)
    device = cfg.device or default_device()
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
    train_set, test_set = train_and_test(
        cfg.dataset, cfg.data_dir, fast_dev_run=cfg.fast_dev_run, seed=cfg.seed
    )
    n_classes = len(train_set.classes)
    timings: dict[str, float] = {}
    split, y = run_split(out, train_set, cfg.n_labeled, cfg.seed)  # one split for every stage

    # stage 1: metric
    t0 = time.perf_counter()
    features_path = out / "metric" / "features.npy"
    encoder_path = out / "metric" / "encoder.pt"
    if cfg.metric.source != "none" and not features_path.exists():
        logger.info("stage 1/3: metric (%s)", cfg.metric.source)
        metric_stage(
            cfg.metric,
            cfg,
            out / "metric",
            device,
            section="metric",
            images=(train_set, test_set),
            split=split,
            progress=progress,
        )
    timings["metric"] = time.perf_counter() - t0

    # stage 2: propagate (on the metric's features, or PCA-free raw pixels when there is no metric)
    t0 = time.perf_counter()
    pseudo_path = out / "propagate" / "pseudo.npz"
    if cfg.finetune.use_pseudo_labels and not pseudo_path.exists():
        logger.info("stage 2/3: propagate (%s)", cfg.propagate.method)
        feats = (
            np.load(features_path)
            if features_path.exists()
            else train_set.images.reshape(len(train_set), -1) / 255.0
        )
        params = {k: v for k, v in asdict(cfg.propagate).items() if k != "method" and v is not None}
        params = {
            k: v
            for k, v in params.items()
            if k in {f for f in PROPAGATORS[cfg.propagate.method].__dataclass_fields__}
        }
        if (
            cfg.fast_dev_run
            and "n_components" in PROPAGATORS[cfg.propagate.method].__dataclass_fields__
        ):
            params["n_components"] = min(params.get("n_components", 200), 20)
        result = make_propagator(cfg.propagate.method, **params).propagate(feats, y, n_classes)
        confidence = margin_confidence(
            result.probabilities, cfg.propagate.confidence_temperature
        )  # DMT eq. (8)-(9)
        confidence[y >= 0] = 1.0
        save_npz(
            pseudo_path,
            labels=result.labels,
            probabilities=result.probabilities,
            confidence=confidence,
            labeled=y >= 0,
        )
    timings["propagate"] = time.perf_counter() - t0

    # stage 3: finetune
    t0 = time.perf_counter()
    ft = cfg.finetune
    rows, weights = np.flatnonzero(y >= 0), np.ones(len(y))
    targets = np.where(y >= 0, y, 0)
    pseudo_metrics = {}
    if ft.use_pseudo_labels:
        pseudo = np.load(pseudo_path)
        unl = np.flatnonzero(y < 0)
        targets = pseudo["labels"]
        if ft.top_ratio is not None:
            chosen = select_confident(
                pseudo["confidence"],
                ft.top_ratio,
                candidates=unl,
                labels=targets,
                per_class=ft.per_class,
                tie_break=pseudo["probabilities"].max(axis=1),  # where σ = 40 saturates
            )
        else:
            chosen = unl[pseudo["confidence"][unl] >= ft.min_confidence]
            weights = pseudo["confidence"]  # DMT eq. (10): α_i (1 on labeled points)
        rows = np.concatenate([rows, chosen])
        pseudo_metrics = {
            "pseudo_label_accuracy": pseudo_label_accuracy(targets, train_set.labels, y < 0),
            "pseudo_label_map": pseudo_label_map(
                pseudo["confidence"], targets, train_set.labels, y < 0
            ),
            "pseudo_labels_used": int(chosen.size),
        }
    model = classifier_model(
        cfg,
        train_set,
        device,
        encoder=encoder_path if encoder_path.exists() and cfg.metric.source != "none" else None,
    )
    stream = ImageStream(
        train_set.images,
        ShiftFlip(shift=ft.shift),
        ft.batch_size,
        cfg.seed,
        device,
        cfg.dataset,
        indices=rows,
        epoch_size=ft.epoch_size or len(train_set),
        labeled=np.flatnonzero(y >= 0),
        # labels only: every row is labeled, the batches stay uniform
        labeled_per_batch=ft.labeled_per_batch if ft.use_pseudo_labels else 0,
    )
    monitor = AccuracyMonitor(test_set.images, test_set.labels)
    task = WeightedClassification(stream, targets, example_weights=weights, monitor=monitor)
    tcfg = TrainConfig(
        epochs=1 if cfg.fast_dev_run else ft.epochs, lr=ft.lr, seed=cfg.seed, progress=progress
    )
    metrics = train(model, task, tcfg, out / "finetune", extra_config={"dmt": asdict(cfg)})
    save_test_predictions(model, monitor, stream, out)
    timings["finetune"] = time.perf_counter() - t0
    results = {"test_accuracy": metrics["test_accuracy"], **pseudo_metrics, "seconds": timings}
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1))
    return results
