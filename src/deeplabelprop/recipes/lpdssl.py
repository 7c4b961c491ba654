"""Recipe ``lpdssl``: Label Propagation for Deep Semi-supervised Learning (Iscen et al. 2019).

Stage 1: supervised training on the labeled examples (T epochs), from scratch as in the paper or
from a pretrained metric encoder (``init = "checkpoint"``, an option the paper did not have).
Stage 2 (Algorithm 1), every epoch: descriptors of all training images, kNN graph (k = 50,
γ = 3), diffusion by CG (α = 0.99, ≤ 20 iterations), pseudo labels, entropy weights ω (eq. 11)
and class weights ζ; then one epoch of the weighted loss (eq. 12) on B_L labeled + B_U unlabeled
images per batch, with the optional Mean Teacher consistency ("MT + Ours").

Both stages resume from their checkpoints; each epoch's pseudo labels and weights are kept in
``iterative/pseudo/epoch_NNN.npz`` (the paper's Figure 4 comes from them and metrics.jsonl).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..data import ImageStream, ShiftFlip
from ..errors import InputError
from ..graph.knn import default_device
from ..propagation import make_propagator
from ..train import AccuracyMonitor, TrainConfig, WeightedClassification, load_checkpoint, train
from ..train.iterative import DESCRIPTORS, PSEUDO_SOURCES, IterativePropagation
from .common import RecipeConfig, classifier_model, run_split, save_test_predictions, train_and_test

logger = logging.getLogger(__name__)


@dataclass
class SupervisedSettings:
    """Stage 1: cross-entropy on the labeled examples only."""

    init: str = "scratch"  # scratch | checkpoint
    checkpoint: str | None = None  # encoder.pt when init = "checkpoint"
    epochs: int = 10
    lr: float = 0.05
    batch_size: int = 100


@dataclass
class IterativeSettings:
    """Stage 2: pseudo labels refreshed every epoch and the weighted loss (Iscen §4-5)."""

    epochs: int = 20
    lr: float = 0.05
    batch_labeled: int = 50  # B_L (Iscen: 50 on CIFAR-10)
    batch_unlabeled: int = 50  # B_U; one epoch = one pass over the unlabeled images
    pseudo_labels: str = "diffusion"  # diffusion | network | none
    descriptor: str = "features"  # features (the paper: the penultimate layer) | embed
    n_neighbors: int = 50  # k
    gamma: float = 3.0  # γ of a_ij = [v_iᵀ v_j]_+^γ
    alpha: float = 0.99
    cg_iterations: int = 20
    entropy_weights: bool = True  # ω (eq. 11)
    class_balance: bool = True  # ζ
    mean_teacher: bool = False  # consistency to an EMA teacher ("MT + Ours", or "MT" with none)
    consistency: float = 10.0
    ema_decay: float = 0.99
    rampup_epochs: int = 5
    shift: int = 2


@dataclass
class LPDSSLConfig(RecipeConfig):
    supervised: SupervisedSettings = field(default_factory=SupervisedSettings)
    iterative: IterativeSettings = field(default_factory=IterativeSettings)


def run_lpdssl(cfg: LPDSSLConfig, out_dir: str | Path, *, progress: bool = False) -> dict:
    """Run (or resume) both stages into ``out_dir``; returns the final results."""
    _check(cfg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = cfg.device or default_device()
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
    train_set, test_set = train_and_test(
        cfg.dataset, cfg.data_dir, fast_dev_run=cfg.fast_dev_run, seed=cfg.seed
    )
    n_classes = len(train_set.classes)
    _, y = run_split(out, train_set, cfg.n_labeled, cfg.seed)
    monitor = AccuracyMonitor(test_set.images, test_set.labels)
    timings: dict[str, float] = {}
    sup, it = cfg.supervised, cfg.iterative
    settings = {"lpdssl": asdict(cfg)}
    # stage 1 depends on these only: other stage-2 settings may change and reuse it
    stage1 = {
        "lpdssl": {
            **{k: v for k, v in asdict(cfg).items() if k not in ("iterative", "device")},
            "shift": it.shift,
        }
    }

    # stage 1: supervised on the labels (Algorithm 1, lines 1-3)
    t0 = time.perf_counter()
    model = classifier_model(
        cfg, train_set, device, encoder=sup.checkpoint if sup.init == "checkpoint" else None
    )
    metrics: dict = {}
    if sup.epochs > 0:
        logger.info("stage 1/2: supervised on %d labels", int((y >= 0).sum()))
        stream = ImageStream(
            train_set.images,
            ShiftFlip(shift=it.shift),
            sup.batch_size,
            cfg.seed,
            device,
            cfg.dataset,
            indices=np.flatnonzero(y >= 0),
            epoch_size=int((y < 0).sum()) or None,  # as many steps as a stage-2 epoch's images
        )
        task = WeightedClassification(stream, np.where(y >= 0, y, 0), monitor=monitor)
        tcfg = TrainConfig(
            epochs=1 if cfg.fast_dev_run else sup.epochs,
            lr=sup.lr,
            seed=cfg.seed,
            progress=progress,
        )
        metrics = train(model, task, tcfg, out / "supervised", extra_config=stage1)
    timings["supervised"] = time.perf_counter() - t0

    # stage 2: propagate every epoch, train on the weighted pseudo labels (lines 4-10)
    t0 = time.perf_counter()
    if it.epochs > 0:
        logger.info("stage 2/2: iterative label propagation (%s)", it.pseudo_labels)
        if sup.epochs > 0:  # start from stage 1's weights (a resumed stage 2 loads its own)
            model.load_state_dict(load_checkpoint(out / "supervised" / "checkpoint.pt")["model"])
        stream = ImageStream(
            train_set.images,
            ShiftFlip(shift=it.shift),
            seed=cfg.seed,
            device=device,
            dataset=cfg.dataset,
        )
        propagator = make_propagator(
            "diffusion",
            n_neighbors=min(it.n_neighbors, len(y) - 1),
            gamma=it.gamma,
            alpha=it.alpha,
            max_iter=it.cg_iterations,
            random_state=cfg.seed,
        )
        task = IterativePropagation(
            stream,
            y,
            n_classes,
            batch_labeled=it.batch_labeled,
            batch_unlabeled=it.batch_unlabeled,
            propagator=propagator,
            pseudo_labels=it.pseudo_labels,
            entropy_weights=it.entropy_weights,
            class_balance=it.class_balance,
            descriptor=it.descriptor,
            consistency=it.consistency if it.mean_teacher else 0.0,
            ema_decay=it.ema_decay,
            rampup_epochs=it.rampup_epochs,
            monitor=monitor,
            truth=train_set.labels,
            pseudo_dir=out / "iterative" / "pseudo",
            model=model,
        )
        tcfg = TrainConfig(
            epochs=1 if cfg.fast_dev_run else it.epochs, lr=it.lr, seed=cfg.seed, progress=progress
        )
        metrics = train(model, task, tcfg, out / "iterative", extra_config=settings)
        # Mean Teacher: the EMA teacher is the model that is reported and kept (Tarvainen & Valpola)
        final = task.teacher.model if task.teacher is not None else model
    else:
        final = model
    timings["iterative"] = time.perf_counter() - t0
    eval_stream = ImageStream(train_set.images, ShiftFlip(), device=device, dataset=cfg.dataset)
    save_test_predictions(final, monitor, eval_stream, out)

    results = {
        "test_accuracy": metrics.get("test_accuracy"),
        **{
            k: metrics[k]
            for k in (
                "teacher_test_accuracy",
                "pseudo_label_accuracy",
                "propagate_seconds",
                "train_seconds",
            )
            if k in metrics
        },
        "seconds": timings,
    }
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=1))
    return results


def _check(cfg: LPDSSLConfig) -> None:
    """Settings errors before any work is done."""
    it, sup = cfg.iterative, cfg.supervised
    for name, value, allowed in [
        ("iterative.pseudo_labels", it.pseudo_labels, PSEUDO_SOURCES),
        ("iterative.descriptor", it.descriptor, DESCRIPTORS),
        ("supervised.init", sup.init, ("scratch", "checkpoint")),
    ]:
        if value not in allowed:
            raise InputError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    if sup.init == "checkpoint" and not sup.checkpoint:
        raise InputError(
            "supervised.init = 'checkpoint' needs supervised.checkpoint = an encoder.pt"
        )
    if it.batch_labeled < 1 or it.batch_unlabeled < 1:
        raise InputError("iterative.batch_labeled and batch_unlabeled must be at least 1")
