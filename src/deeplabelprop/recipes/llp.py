"""Recipe ``llp``: Local Label Propagation (Zhuang et al. 2019).

Stage ``metric``: the warm start (instance discrimination; the paper: 10 epochs of the IR loss)
or an encoder checkpoint; its embeddings become the initial memory bank. Stage ``llp``, every
epoch: pseudo labels and confidences c for every bank row from ``[propagate]``: LLP's own
density-weighted votes of the K = 10 labeled neighbours (``local``: weights P(i|v)/ρ(v_i), ρ over
T = 25 neighbours, eq. 5-8, c = p_y), or any registered method (an option of ours: with few
labels a global method sees more of the manifold). Every step the loss c · [CE + aggregation]
(eq. 4), τ = 0.07, bank momentum 0.5, weight decay 1e-4. The released code defines the
density-weighted vote but never calls it; this recipe runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import distributed
from .._params import Interval
from ..config import setting
from ..data import ShiftFlip
from ..data.images.stream import ImageStream
from ..pretrain import MetricSettings
from ..propagation import Pipeline, PropagationResult
from ..train import AccuracyMonitor, TrainConfig, train
from ..train.llp_task import LLPTask
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


@dataclass
class LLPSettings:
    """Stage ``llp``: the loss and the memory bank (§3); the ablations of Table 6 are settings
    of ``[propagate]`` (weight = "uniform" is "woc"; density_weighting, n_voters) and
    ``category_loss`` here."""

    epochs: int = setting(10, Interval(1, None, integer=True))
    lr: float = setting(0.03, Interval(0, None, closed="neither"))
    weight_decay: float = setting(1e-4, Interval(0, None))
    batch_size: int = setting(128, Interval(2, None, integer=True))
    tau: float = setting(0.07, Interval(0, None, closed="neither"))  # of the aggregation loss
    momentum: float = setting(0.5, Interval(0, 1, closed="left"))  # memory bank
    category_loss: bool = True  # CE in eq. (4); off = embedding loss only
    # ours: labeled rows in every batch (the rest drawn from the unlabeled); 0: uniform (paper)
    labeled_per_batch: int = setting(0, Interval(0, None, integer=True))
    shift: int = setting(2, Interval(0, None, integer=True))


@dataclass
class LLPConfig(RecipeConfig):
    metric: MetricSettings = setting(factory=MetricSettings)
    propagate: Pipeline = setting(factory=lambda: Pipeline("local"))
    llp: LLPSettings = setting(factory=LLPSettings)


def check_llp(cfg: LLPConfig) -> None:
    check_metric(
        cfg.metric,
        "metric",
        allowed=("instance", "nca", "bootstrap", "checkpoint", "pretrained"),
        classifier=cfg,
    )
    check_labeled_per_batch(cfg.llp.labeled_per_batch, cfg.llp.batch_size, "llp")


def llp_task(run, cfg: LLPConfig, problem, normalization, device) -> LLPTask:
    """Stage ``llp``'s task: the bank starts from the metric's features."""
    p, y, n_classes = cfg.llp, problem.given, len(problem.classes)
    stream = ImageStream(
        problem.train.images,
        ShiftFlip(shift=p.shift),
        p.batch_size,
        cfg.seed,
        device,
        normalization,
        labeled=np.flatnonzero(y >= 0),
        labeled_per_batch=p.labeled_per_batch,
        num_workers=cfg.num_workers,
    )
    test = problem.test
    return LLPTask(
        stream,
        y,
        n_classes,
        np.load(run.path / "metric" / "features.npy"),
        lambda bank: cfg.propagate.run(bank, y, n_classes, seed=cfg.seed, calibrate=False),
        tau=p.tau,
        momentum=p.momentum,
        category_loss=p.category_loss,
        monitor=None if test is None else AccuracyMonitor(test.images, test.labels),
        truth=problem.truth,
        pseudo_dir=run.path / "llp" / "pseudo",
        classes=problem.classes,
    )


def final_pseudo_labels(run, cfg: LLPConfig, task: LLPTask, problem) -> PropagationResult:
    """Propagated over the final bank, the confidence calibrated; written to
    pseudo_labels.npz and pseudo_labels.csv."""
    path = run.path / "pseudo_labels.npz"
    if not run.done("pseudo_labels"):
        with run.stage("pseudo_labels"):
            bank = task.bank.vectors.float().cpu().numpy()
            y, n_classes = problem.given, len(problem.classes)
            result = distributed.from_main(
                lambda: cfg.propagate.run(bank, y, n_classes, seed=cfg.seed, audit=problem.audit)
            )
            result.save(path, problem.classes)
    pseudo = PropagationResult.load(path)[0]
    write_pseudo_labels(run, pseudo, problem, "pseudo_labels.npz")
    return pseudo


@register_recipe("llp", LLPConfig, check=check_llp)
def run_llp(
    cfg: LLPConfig, out_dir: str | Path, *, progress: bool = False, fast_dev_run: bool = False
) -> dict:
    """Run (or resume) the warm start and LLP training into ``out_dir``; returns the results."""
    stages = {
        "metric": cfg.stage_settings("metric"),
        "llp": cfg.stage_settings("metric", "propagate", "llp"),
    }
    stages["pseudo_labels"] = stages["llp"]
    run = open_run(
        out_dir, "llp", cfg, stages, fast_dev_run=fast_dev_run, label_free=label_free(cfg.metric)
    )
    problem = open_problem(run, cfg, progress=progress)
    device, p = device_of(cfg), cfg.llp
    encoder = metric_stage(run, cfg.metric, cfg, problem, device, progress=progress)
    network, normalization = classifier_model(cfg, problem, device, encoder=encoder)
    task = llp_task(run, cfg, problem, normalization, device)
    tcfg = TrainConfig(
        epochs=p.epochs,
        lr=p.lr,
        weight_decay=p.weight_decay,
        seed=cfg.seed,
        progress=progress,
        mixed_precision=cfg.mixed_precision(),
    )
    with run.stage("llp") as folder:
        last = train(network, task, tcfg, folder, extra_config={"llp": stages["llp"]})
    run.output("epochs", "llp/metrics.jsonl")
    run.output("pseudo_history", "llp/pseudo")
    pseudo = final_pseudo_labels(run, cfg, task, problem)
    save_classifier(run, network, problem, normalization, cfg)
    if task.monitor is not None:
        save_test_predictions(run, network, task.monitor, task.stream)
    keys = ("test_accuracy", "nn_accuracy", "propagate_seconds", "train_seconds")
    results = {k: last[k] for k in keys if k in last}
    scores = pseudo_label_scores(pseudo, problem)
    results |= {k: v for k, v in scores.items() if k == "pseudo_label_accuracy"}
    return run.finish({**results, "seconds": stage_seconds(run)})
