"""Recipe ``dmt``: Deep Metric Transfer (Liu et al. 2019) end to end.

Stage ``metric``: instance discrimination on the training images (S = U), NCA or bootstrap on the
given labels, an encoder from another run or data set (S ≠ U), or none (raw pixels). Stage
``propagate``: any registered propagator on the embeddings; each pseudo label's training weight
is the method's own (DMT's margin, eq. 8-9, for spectral and knn-vote) unless ``weight`` names
another. Stage ``finetune``: a classifier initialised from the metric encoder, trained on the
labels and the pseudo labels weighted by that weight (eq. 10), dropping weights below 0.01, or on
the top ratio of pseudo labels (the released code's variant).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import distributed
from .._params import Interval, Options
from ..atomic import atomic_path
from ..config import setting
from ..data import ShiftFlip
from ..data.images.stream import ImageStream
from ..pretrain import MetricSettings
from ..propagation import Pipeline, PropagationResult, select_confident
from ..train import AccuracyMonitor, TrainConfig, WeightedClassification, train
from ..train.linear_head import fit_linear_head
from .common import (
    check_labeled_per_batch,
    classifier_model,
    device_of,
    pseudo_label_scores,
    save_classifier,
    save_test_predictions,
    stage_seconds,
    write_pseudo_labels,
)
from .metric_stage import check_metric, label_free, metric_stage
from .registry import register_recipe
from .run_dir import open_problem, open_run
from .settings import RecipeConfig

logger = logging.getLogger(__name__)


@dataclass
class FinetuneSettings:
    epochs: int = setting(20, Interval(1, None, integer=True))
    lr: float = setting(0.05, Interval(0, None, closed="neither"))
    batch_size: int = setting(128, Interval(2, None, integer=True))
    use_pseudo_labels: bool = True  # False: labels only (DMT Table 2 "no propagation")
    min_confidence: float = setting(0.01, Interval(0, 1))  # DMT §3.3: drop α < 0.01
    # released code: keep only the most confident ratio, weight 1
    top_ratio: float | None = setting(None, Interval(0, 1, allow_none=True))
    per_class: bool = False  # top_ratio within each pseudo class (the confident set keeps them all)
    # true labels in every batch (the rest pseudo labels); 0: batches uniform over all rows (DMT)
    labeled_per_batch: int = setting(0, Interval(0, None, integer=True))
    shift: int = setting(2, Interval(0, None, integer=True))
    # examples per epoch (a smaller labeled set is cycled); None: the training set size, so that
    # "no propagation" trains as many steps as the pseudo-labeled runs
    epoch_size: int | None = setting(None, Interval(1, None, integer=True, allow_none=True))
    # "train": the whole network (DMT); "frozen": the backbone fixed, a linear classifier fitted
    # exactly on its features (the cheap option on a CPU, for a pretrained backbone), with the
    # L2 penalty head_l2 (epochs, lr, batch_size and shift then do not apply)
    backbone: str = setting("train", Options(("train", "frozen")))
    head_l2: float = setting(1e-4, Interval(0, None, closed="neither"))


@dataclass
class DMTConfig(RecipeConfig):
    metric: MetricSettings = setting(factory=MetricSettings)
    propagate: Pipeline = setting(factory=lambda: Pipeline("spectral"))
    finetune: FinetuneSettings = setting(factory=FinetuneSettings)


def check_dmt(cfg: DMTConfig) -> None:
    check_metric(
        cfg.metric,
        "metric",
        allowed=("instance", "nca", "bootstrap", "checkpoint", "pretrained", "none"),
        classifier=cfg,
    )
    check_labeled_per_batch(cfg.finetune.labeled_per_batch, cfg.finetune.batch_size, "finetune")


def propagate_stage(run, cfg: DMTConfig, problem, features: np.ndarray) -> PropagationResult:
    """Stage ``propagate`` (skipped when done): pseudo labels for every training image."""
    path = run.path / "propagate" / "pseudo.npz"
    if not run.done("propagate"):
        with run.stage("propagate"):
            if distributed.is_main():  # once; the others read it after the stage's barrier
                result = cfg.propagate.run(
                    features,
                    problem.given,
                    len(problem.classes),
                    seed=cfg.seed,
                    audit=problem.audit,
                )
                result.save(path, problem.classes, result.info["params"])
    return PropagationResult.load(path)[0]


def finetune_rows(ft: FinetuneSettings, result: PropagationResult, y: np.ndarray):
    """(rows to train on, their targets, their weights): the labels, plus the pseudo labels
    whose weight is at least ``min_confidence`` (weighted, eq. 10), or the top ratio of them
    (weight 1, the released code)."""
    rows, weights = np.flatnonzero(y >= 0), np.ones(len(y))
    targets = np.where(y >= 0, y, 0)
    if not ft.use_pseudo_labels:
        return rows, targets, weights
    unl = np.flatnonzero(y < 0)
    targets = result.labels
    if ft.top_ratio is not None:
        chosen = select_confident(
            result.weights,
            ft.top_ratio,
            candidates=unl,
            labels=targets,
            per_class=ft.per_class,
            tie_break=result.probabilities.max(axis=1),  # where σ = 40 saturates
        )
    else:
        chosen = unl[result.weights[unl] >= ft.min_confidence]
        weights = result.weights  # DMT eq. (10): α_i (1 on labeled points)
    return np.concatenate([rows, chosen]), targets, weights


def fit_frozen(cfg: DMTConfig, problem, network, stream, chosen, monitor, folder: Path) -> None:
    """The finetune with the backbone frozen: the classifier fitted exactly on the backbone's
    features (:func:`fit_linear_head`) over the ``chosen`` (rows, targets, weights); writes
    ``folder/metrics.jsonl``."""
    rows, targets, weights = chosen
    folder.mkdir(parents=True, exist_ok=True)
    if cfg.metric.source == "pretrained":  # the backbone's features are the metric stage's
        feats = np.load(folder.parent / "metric" / "features.npy")
    else:
        feats = stream.embed(network, head="features").float().cpu().numpy()
    start = time.perf_counter()
    W, b, info = fit_linear_head(
        feats[rows], targets[rows], weights[rows], len(problem.classes), l2=cfg.finetune.head_l2
    )
    with torch.no_grad():
        network.classifier.weight.copy_(torch.as_tensor(W))
        network.classifier.bias.copy_(torch.as_tensor(b))
    last = {"epoch": 1, **info, "train_seconds": time.perf_counter() - start}
    if monitor is not None:
        last |= monitor(network, stream)
    if distributed.is_main():
        with atomic_path(folder / "metrics.jsonl") as tmp:
            tmp.write_text(json.dumps(last) + "\n")


def finetune_stage(run, cfg: DMTConfig, problem, result, encoder, device, progress) -> dict:
    """Stage ``finetune``: a classifier from the metric on the labels and weighted pseudo
    labels (eq. 10); writes model.pt and the test predictions. Returns the last epoch's metrics."""
    ft, y = cfg.finetune, problem.given
    rows, targets, weights = finetune_rows(ft, result, y)
    network, normalization = classifier_model(cfg, problem, device, encoder=encoder)
    stream = ImageStream(
        problem.train.images,
        ShiftFlip(shift=ft.shift),
        ft.batch_size,
        cfg.seed,
        device,
        normalization,
        indices=rows,
        epoch_size=ft.epoch_size or len(problem.train),
        labeled=np.flatnonzero(y >= 0),
        # labels only: every row is labeled, the batches stay uniform
        labeled_per_batch=ft.labeled_per_batch if ft.use_pseudo_labels else 0,
        num_workers=cfg.num_workers,
    )
    test = problem.test
    monitor = None if test is None else AccuracyMonitor(test.images, test.labels)
    if ft.backbone == "frozen":
        if not run.done("finetune"):  # model.pt is written inside the stage: done means saved
            with run.stage("finetune") as folder:
                fit_frozen(cfg, problem, network, stream, (rows, targets, weights), monitor, folder)
                save_classifier(run, network, problem, normalization, cfg)
                if monitor is not None:
                    save_test_predictions(run, network, monitor, stream)
        run.output("epochs", "finetune/metrics.jsonl")
        return {**_last_metrics(run), "pseudo_labels_used": _used(ft, rows, y)}
    else:
        task = WeightedClassification(stream, targets, example_weights=weights, monitor=monitor)
        tcfg = TrainConfig(
            epochs=ft.epochs,
            lr=ft.lr,
            seed=cfg.seed,
            progress=progress,
            mixed_precision=cfg.mixed_precision(),
        )
        settings = {"dmt": cfg.stage_settings("metric", "propagate", "finetune")}
        with run.stage("finetune") as folder:
            last = train(network, task, tcfg, folder, extra_config=settings)
    run.output("epochs", "finetune/metrics.jsonl")
    save_classifier(run, network, problem, normalization, cfg)
    if monitor is not None:
        save_test_predictions(run, network, monitor, stream)
    return {**last, "pseudo_labels_used": _used(ft, rows, y)}


def _used(ft: FinetuneSettings, rows: np.ndarray, y: np.ndarray) -> int | None:
    return int(rows.size - (y >= 0).sum()) if ft.use_pseudo_labels else None


def _last_metrics(run) -> dict:
    lines = (run.path / "finetune" / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1])


@register_recipe("dmt", DMTConfig, check=check_dmt)
def run_dmt(
    cfg: DMTConfig, out_dir: str | Path, *, progress: bool = False, fast_dev_run: bool = False
) -> dict:
    """Run (or resume) the three stages into ``out_dir``; returns the final results."""
    stages = {
        "metric": cfg.stage_settings("metric"),
        "propagate": cfg.stage_settings("metric", "propagate"),
        "finetune": cfg.stage_settings("metric", "propagate", "finetune"),
    }
    if cfg.metric.source == "none":
        del stages["metric"]
    if not cfg.finetune.use_pseudo_labels:
        del stages["propagate"]
    run = open_run(
        out_dir, "dmt", cfg, stages, fast_dev_run=fast_dev_run, label_free=label_free(cfg.metric)
    )
    problem = open_problem(run, cfg, progress=progress)
    device = device_of(cfg)
    encoder = metric_stage(run, cfg.metric, cfg, problem, device, progress=progress)
    result, scores = None, {}
    if cfg.finetune.use_pseudo_labels:
        features = (
            np.load(run.path / "metric" / "features.npy")
            if encoder is not None
            else np.asarray(problem.train.images).reshape(len(problem.given), -1) / 255.0
        )
        result = propagate_stage(run, cfg, problem, features)
        write_pseudo_labels(run, result, problem, "propagate/pseudo.npz")
        scores = pseudo_label_scores(result, problem)
    last = finetune_stage(run, cfg, problem, result, encoder, device, progress)
    results = {"test_accuracy": last.get("test_accuracy"), **scores}
    if last["pseudo_labels_used"] is not None:
        results["pseudo_labels_used"] = last["pseudo_labels_used"]
    return run.finish({**results, "seconds": stage_seconds(run)})
