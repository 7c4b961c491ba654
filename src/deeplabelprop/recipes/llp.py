"""Recipe ``llp``: Local Label Propagation (Zhuang et al. 2019).

Stage 1, warm start: instance discrimination on the training images (the paper: 10 epochs of the
IR loss) or an encoder checkpoint; its embeddings become the initial memory bank.
Stage 2, every epoch: the density ρ of the labeled bank rows (eq. 7, T = 25), pseudo labels and
confidences of all rows from the K = 10 labeled neighbours weighted P(i|v)/ρ(v_i) (eq. 8); every
step the loss c · [CE + aggregation] (eq. 4), τ = 0.07, bank momentum 0.5, weight decay 1e-4.
The released code defines the density-weighted vote but never calls it; this recipe runs it.
An option of ours, ``propagation.method``: a global propagator (e.g. diffusion) on the whole bank
instead of the local vote, its own confidence as c.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._params import check_params
from ..atomic import atomic_path
from ..data import ImageStream, ShiftFlip
from ..errors import InputError
from ..graph.knn import default_device
from ..propagation import PROPAGATORS, make_propagator
from ..train import AccuracyMonitor, TrainConfig, train
from ..train.local_aggregation import LocalLabelPropagation
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
class WarmSettings(MetricSettings):
    """Stage 1: the unsupervised warm start (instance discrimination) or an encoder checkpoint."""

    epochs: int = 10
    crop_scale: float = 0.4


@dataclass
class PropagationSettings:
    """Stage 2: LLP's propagation and loss (§3), with the ablations of its Table 6."""

    epochs: int = 10
    lr: float = 0.03
    weight_decay: float = 1e-4
    batch_size: int = 128
    tau: float = 0.07
    momentum: float = 0.5  # memory bank
    n_voters: int = 10  # K
    n_density: int = 25  # T
    density_weighting: bool = True  # "lw": P(i|v)/ρ(v_i) instead of P(i|v)
    confidence_weighting: bool = True  # c in eq. (4); off = "woc"
    category_loss: bool = True  # CE in eq. (4); off = embedding loss only
    # ours: labeled rows in every batch (the rest drawn from the unlabeled); 0: uniform (paper)
    labeled_per_batch: int = 0
    shift: int = 2
    # ours: "local" is LLP's vote (eq. 8); any other registered propagator (e.g. "diffusion")
    # runs on the whole bank instead, with its own confidence as c, n_neighbors its graph's k
    # (n_voters, n_density and density_weighting then have no effect: they shape the local vote)
    method: str = "local"
    n_neighbors: int | None = None


@dataclass
class LLPConfig(RecipeConfig):
    warm: WarmSettings = field(default_factory=WarmSettings)
    propagation: PropagationSettings = field(default_factory=PropagationSettings)


def bank_propagator(p: PropagationSettings, *, n_points: int):
    """None for LLP's own local vote, else the configured propagator (an option of ours)."""
    if p.method == "local":
        if p.n_neighbors is not None:
            raise InputError(
                "propagation.n_neighbors is the graph's k of a global method; LLP's local vote "
                "takes K as propagation.n_voters"
            )
        return None
    if p.method not in PROPAGATORS:
        raise InputError(
            f"unknown propagation.method {p.method!r}; choose local or one of "
            f"{', '.join(sorted(m for m in PROPAGATORS if m != 'local'))}"
        )
    params = {} if p.n_neighbors is None else {"n_neighbors": min(p.n_neighbors, n_points - 1)}
    propagator = make_propagator(p.method, **params)
    check_params(propagator, propagator.constraints)  # now, not after the warm start
    return propagator


def run_llp(cfg: LLPConfig, out_dir: str | Path, *, progress: bool = False) -> dict:
    """Run (or resume) the warm start and LLP training into ``out_dir``; returns the results."""
    if cfg.warm.source not in ("instance", "checkpoint"):
        raise InputError(f"warm.source must be instance or checkpoint, got {cfg.warm.source!r}")
    check_metric_settings(cfg.warm, "warm")
    check_labeled_per_batch(
        cfg.propagation.labeled_per_batch, cfg.propagation.batch_size, "propagation"
    )
    bank_propagator(cfg.propagation, n_points=2)  # bad settings fail before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = cfg.device or default_device()
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
    train_set, test_set = train_and_test(
        cfg.dataset, cfg.data_dir, fast_dev_run=cfg.fast_dev_run, seed=cfg.seed
    )
    n_classes = len(train_set.classes)
    split, y = run_split(out, train_set, cfg.n_labeled, cfg.seed)
    timings: dict[str, float] = {}

    # stage 1: warm start, skipped once its features exist
    t0 = time.perf_counter()
    warm, w = out / "warm", cfg.warm
    if not (warm / "features.npy").exists():
        logger.info("stage 1/2: warm start (%s)", w.source)
        metric_stage(
            w,
            cfg,
            warm,
            device,
            section="warm",
            images=(train_set, test_set),
            split=split,
            progress=progress,
        )
    timings["warm"] = time.perf_counter() - t0

    # stage 2: LLP
    t0 = time.perf_counter()
    p = cfg.propagation
    model = classifier_model(cfg, train_set, device, encoder=warm / "encoder.pt")
    stream = ImageStream(
        train_set.images,
        ShiftFlip(shift=p.shift),
        p.batch_size,
        cfg.seed,
        device,
        cfg.dataset,
        labeled=np.flatnonzero(y >= 0),
        labeled_per_batch=p.labeled_per_batch,
    )
    task = LocalLabelPropagation(
        stream,
        y,
        n_classes,
        np.load(warm / "features.npy"),
        tau=p.tau,
        momentum=p.momentum,
        n_voters=p.n_voters,
        n_density=min(p.n_density, len(y) - 1),
        density_weighting=p.density_weighting,
        confidence_weighting=p.confidence_weighting,
        category_loss=p.category_loss,
        monitor=AccuracyMonitor(test_set.images, test_set.labels),
        truth=train_set.labels,
        pseudo_dir=out / "llp" / "pseudo",
        propagator=bank_propagator(p, n_points=len(y)),
    )
    tcfg = TrainConfig(
        epochs=1 if cfg.fast_dev_run else p.epochs,
        lr=p.lr,
        weight_decay=p.weight_decay,
        seed=cfg.seed,
        progress=progress,
    )
    metrics = train(model, task, tcfg, out / "llp", extra_config={"llp": asdict(cfg)})
    save_test_predictions(model, task.monitor, stream, out)
    timings["llp"] = time.perf_counter() - t0
    results = {
        k: metrics[k]
        for k in (
            "test_accuracy",
            "nn_accuracy",
            "pseudo_label_accuracy",
            "propagate_seconds",
            "train_seconds",
        )
        if k in metrics
    }
    results["seconds"] = timings
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1))
    return results
