"""Recipe ``lpdssl``: Label Propagation for Deep Semi-supervised Learning (Iscen et al. 2019).

Stage ``metric`` (an option of ours, off by default: the paper trains from scratch): a metric to
start the network from, trained here or taken from an ``encoder.pt``. Stage ``supervised``:
cross-entropy on the labeled examples (T epochs; 0 skips it). Stage ``iterative`` (Algorithm 1),
every epoch: descriptors of all training images, then pseudo labels from ``[propagate]``
(diffusion in the paper: kNN graph k = 50, γ = 3, (I - αW)Z = Y by CG, α = 0.99, ≤ 20
iterations), their training weights (the method's own: ω, eq. 11, for diffusion) and class
weights ζ; then one epoch of the weighted loss (eq. 12) on B_L labeled + B_U unlabeled images per
batch, with the optional Mean Teacher consistency ("MT + Ours"). Each epoch's pseudo labels are
kept in ``iterative/pseudo/epoch_NNN.npz``; the final model's in ``pseudo_labels.npz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._params import Interval, Options
from ..config import setting
from ..data import ShiftFlip
from ..data.images.stream import ImageStream
from ..pretrain import MetricSettings
from ..propagation import Pipeline, PropagationResult
from ..train import AccuracyMonitor, TrainConfig, WeightedClassification, train
from ..train.lpdssl_task import DESCRIPTORS, PSEUDO_SOURCES, LPDSSLTask
from .common import (
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


@dataclass
class SupervisedSettings:
    """Stage ``supervised``: cross-entropy on the labeled examples only (0 epochs: skipped)."""

    epochs: int = setting(10, Interval(0, None, integer=True))
    lr: float = setting(0.05, Interval(0, None, closed="neither"))
    batch_size: int = setting(100, Interval(2, None, integer=True))


@dataclass
class IterativeSettings:
    """Stage ``iterative``: pseudo labels refreshed every epoch and the weighted loss (§4-5)."""

    epochs: int = setting(20, Interval(0, None, integer=True))
    lr: float = setting(0.05, Interval(0, None, closed="neither"))
    batch_labeled: int = setting(50, Interval(1, None, integer=True))  # B_L (Iscen: 50)
    # B_U; one epoch = one pass over the unlabeled images
    batch_unlabeled: int = setting(50, Interval(1, None, integer=True))
    pseudo_labels: str = setting("propagation", Options(PSEUDO_SOURCES))
    # what is propagated: the penultimate layer (the paper) or the metric's embedding head
    descriptor: str = setting("features", Options(DESCRIPTORS))
    class_balance: bool = True  # ζ
    mean_teacher: bool = False  # consistency to an EMA teacher ("MT + Ours", or "MT" with none)
    consistency: float = setting(10.0, Interval(0, None))
    ema_decay: float = setting(0.99, Interval(0, 1, closed="neither"))
    rampup_epochs: int = setting(5, Interval(0, None, integer=True))
    shift: int = setting(2, Interval(0, None, integer=True))


@dataclass
class LPDSSLConfig(RecipeConfig):
    metric: MetricSettings = setting(factory=lambda: MetricSettings(source="none"))
    supervised: SupervisedSettings = setting(factory=SupervisedSettings)
    # Iscen: k = 50, γ = 3, α = 0.99, at most 20 CG iterations
    propagate: Pipeline = setting(
        factory=lambda: Pipeline(
            "diffusion", params={"n_neighbors": 50, "alpha": 0.99, "max_iter": 20}
        )
    )
    iterative: IterativeSettings = setting(factory=IterativeSettings)


def check_lpdssl(cfg: LPDSSLConfig) -> None:
    check_metric(
        cfg.metric,
        "metric",
        allowed=("none", "instance", "nca", "bootstrap", "checkpoint", "pretrained"),
        classifier=cfg,
    )


def network_weight(cfg: LPDSSLConfig) -> str:
    """The weight of network pseudo labels: Iscen's ω unless ``propagate.weight`` names another."""
    return "entropy" if cfg.propagate.weight == "own" else cfg.propagate.weight


def supervised_stage(run, cfg, problem, network, normalization, monitor, device, progress) -> dict:
    """Stage ``supervised`` (Algorithm 1, lines 1-3)."""
    y, sup = problem.given, cfg.supervised
    stream = ImageStream(
        problem.train.images,
        ShiftFlip(shift=cfg.iterative.shift),
        sup.batch_size,
        cfg.seed,
        device,
        normalization,
        indices=np.flatnonzero(y >= 0),
        epoch_size=int((y < 0).sum()) or None,  # as many steps as an iterative epoch's images
        num_workers=cfg.num_workers,
    )
    task = WeightedClassification(stream, np.where(y >= 0, y, 0), monitor=monitor)
    tcfg = TrainConfig(
        epochs=sup.epochs,
        lr=sup.lr,
        seed=cfg.seed,
        progress=progress,
        mixed_precision=cfg.mixed_precision(),
    )
    settings = {"lpdssl": cfg.stage_settings("metric", "supervised")}
    with run.stage("supervised") as folder:
        return train(network, task, tcfg, folder, extra_config=settings)


def iterative_task(run, cfg: LPDSSLConfig, problem, normalization, monitor, device) -> LPDSSLTask:
    """Stage ``iterative``'s task over every training image."""
    it, y, n_classes = cfg.iterative, problem.given, len(problem.classes)
    stream = ImageStream(
        problem.train.images,
        ShiftFlip(shift=it.shift),
        seed=cfg.seed,
        device=device,
        normalization=normalization,
        num_workers=cfg.num_workers,
    )
    return LPDSSLTask(
        stream,
        y,
        n_classes,
        batch_labeled=it.batch_labeled,
        batch_unlabeled=it.batch_unlabeled,
        propagate=lambda v, calibrate=False: cfg.propagate.run(
            v, y, n_classes, seed=cfg.seed, calibrate=calibrate, audit=problem.audit
        ),
        pseudo_labels=it.pseudo_labels,
        network_weight=network_weight(cfg),
        class_balance=it.class_balance,
        descriptor=it.descriptor,
        consistency=it.consistency if it.mean_teacher else 0.0,
        rampup_epochs=it.rampup_epochs,
        monitor=monitor,
        truth=problem.truth,
        pseudo_dir=run.path / "iterative" / "pseudo",
        classes=problem.classes,
    )


def iterative_stage(run, cfg: LPDSSLConfig, task: LPDSSLTask, network, progress) -> dict:
    """Stage ``iterative`` (Algorithm 1, lines 4-10); the last epoch's metrics."""
    it = cfg.iterative
    tcfg = TrainConfig(
        epochs=it.epochs,
        lr=it.lr,
        seed=cfg.seed,
        progress=progress,
        ema_decay=it.ema_decay if it.mean_teacher else None,
        mixed_precision=cfg.mixed_precision(),
    )
    settings = {"lpdssl": cfg.stage_settings("metric", "supervised", "propagate", "iterative")}
    with run.stage("iterative") as folder:
        last = train(network, task, tcfg, folder, extra_config=settings)
    run.output("epochs", "iterative/metrics.jsonl")
    run.output("pseudo_history", "iterative/pseudo")
    return last


@register_recipe("lpdssl", LPDSSLConfig, check=check_lpdssl)
def run_lpdssl(
    cfg: LPDSSLConfig, out_dir: str | Path, *, progress: bool = False, fast_dev_run: bool = False
) -> dict:
    """Run (or resume) the stages into ``out_dir``; returns the final results."""
    stages = {
        "metric": cfg.stage_settings("metric"),
        "supervised": cfg.stage_settings("metric", "supervised"),
        "iterative": cfg.stage_settings("metric", "supervised", "propagate", "iterative"),
    }
    stages["pseudo_labels"] = stages["iterative"]
    run = open_run(
        out_dir, "lpdssl", cfg, stages, fast_dev_run=fast_dev_run, label_free=label_free(cfg.metric)
    )
    problem = open_problem(run, cfg, progress=progress)
    device = device_of(cfg)
    encoder = metric_stage(run, cfg.metric, cfg, problem, device, progress=progress)
    network, normalization = classifier_model(cfg, problem, device, encoder=encoder)
    test = problem.test
    monitor = None if test is None else AccuracyMonitor(test.images, test.labels)
    last: dict = {}
    if cfg.supervised.epochs > 0:
        last = supervised_stage(
            run, cfg, problem, network, normalization, monitor, device, progress
        )
        run.output("epochs", "supervised/metrics.jsonl")
    task = iterative_task(run, cfg, problem, normalization, monitor, device)
    final = network
    if cfg.iterative.epochs > 0:
        last = iterative_stage(run, cfg, task, network, progress)
        # Mean Teacher: the EMA teacher is the model that is reported and kept
        final = task.teacher.model if task.teacher is not None else network
    pseudo = final_pseudo_labels(run, task, final, problem)
    save_classifier(run, final, problem, normalization, cfg)
    if monitor is not None:
        save_test_predictions(run, final, monitor, task.stream)
    keys = ("test_accuracy", "teacher_test_accuracy", "propagate_seconds", "train_seconds")
    results = {k: last[k] for k in keys if k in last}
    scores = pseudo_label_scores(pseudo, problem)
    results |= {k: v for k, v in scores.items() if k == "pseudo_label_accuracy"}
    return run.finish({**results, "seconds": stage_seconds(run)})


def final_pseudo_labels(run, task: LPDSSLTask, final, problem) -> PropagationResult:
    """Pseudo labels of the final model (propagated, or its predictions when the recipe does not
    propagate), written to pseudo_labels.npz and pseudo_labels.csv."""
    path = run.path / "pseudo_labels.npz"
    if not run.done("pseudo_labels"):
        with run.stage("pseudo_labels"):
            task.pseudo_result(final, calibrate=True).save(path, problem.classes)
    result = PropagationResult.load(path)[0]
    write_pseudo_labels(run, result, problem, "pseudo_labels.npz")
    return result
