"""Iscen et al. (2019) stage 2 as a training task: pseudo labels refreshed every epoch.

At the start of every epoch: descriptors of all training images, then pseudo labels ŷ with
weights ω (eq. 11) and ζ (§4) from a propagator (diffusion, Algorithm 1), from the network's own
predictions (the paper's ablation), or none (supervised / Mean Teacher baselines). Then one
epoch of the weighted loss L_w (eq. 12) on batches of B_L labeled + B_U unlabeled images, plus
the optional Mean Teacher consistency (eq. 4) against an EMA teacher.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from ..data.sampling import TwoStreamBatchSampler, two_stream_batches
from ..data.stream import ImageStream
from ..errors import InputError
from ..propagation.confidence import class_balance_weights, entropy_weight
from .classification import AccuracyMonitor
from .ema import EMATeacher
from .losses import consistency_mse, sigmoid_rampup, weighted_cross_entropy
from .pseudo_record import record_pseudo_labels

PSEUDO_SOURCES = ("diffusion", "network", "none")
DESCRIPTORS = ("features", "embed")


def pseudo_targets(
    probabilities: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    entropy_weights: bool = True,
    class_balance: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ŷ, ω, ζ) for every point from class probabilities (N, C) and the labels (-1 unlabeled).

    ŷ = argmax (eq. 7) on unlabeled points, the label on labeled ones; ω = 1 - H/log c
    max-normalised over the unlabeled points (eq. 11), 1 on labeled points; ζ_j ∝ 1/(|L_j|+|U_j|)
    with mean 1. Either weight is all ones when switched off.
    """
    y = np.asarray(labels)
    unl = y < 0
    targets = np.where(unl, np.asarray(probabilities).argmax(axis=1), y)
    omega = np.ones(len(y))
    if entropy_weights and unl.any():
        omega[unl] = entropy_weight(probabilities[unl])
    zeta = class_balance_weights(targets, n_classes) if class_balance else np.ones(n_classes)
    return targets, omega, zeta


class IterativePropagation:
    """The stage-2 task of :func:`deeplabelprop.train.train` for the ``lpdssl`` recipe.

    Parameters
    ----------
    stream : ImageStream over all training images (views and descriptors)
    labels : (N,) ints, -1 on unlabeled images
    propagator : e.g. ``Diffusion(max_iter=20)``; used when ``pseudo_labels="diffusion"``
    pseudo_labels : "diffusion" | "network" | "none"
    consistency : weight of the Mean Teacher term (0: off), ramped up over ``rampup_epochs``
    truth : (N,) true labels, only to report the pseudo-label accuracy each epoch
    pseudo_dir : where each epoch's ŷ, ω, ζ go (``epoch_000.npz`` ...)
    """

    def __init__(
        self,
        stream: ImageStream,
        labels,
        n_classes: int,
        *,
        batch_labeled: int = 50,
        batch_unlabeled: int = 50,
        propagator=None,
        pseudo_labels: str = "diffusion",
        entropy_weights: bool = True,
        class_balance: bool = True,
        descriptor: str = "features",
        consistency: float = 0.0,
        ema_decay: float = 0.999,
        rampup_epochs: float = 0,
        monitor: AccuracyMonitor | None = None,
        truth=None,
        pseudo_dir=None,
        model=None,
    ):
        if pseudo_labels not in PSEUDO_SOURCES:
            raise InputError(
                f"pseudo_labels must be one of {', '.join(PSEUDO_SOURCES)}, got {pseudo_labels!r}"
            )
        if descriptor not in DESCRIPTORS:
            raise InputError(
                f"descriptor must be one of {', '.join(DESCRIPTORS)}, got {descriptor!r}"
            )
        if pseudo_labels == "diffusion" and propagator is None:
            raise InputError("pseudo_labels='diffusion' needs a propagator")
        if consistency > 0 and model is None:
            raise InputError("the Mean Teacher consistency needs the model (to copy the teacher)")
        self.stream, self.monitor, self.truth = stream, monitor, truth
        self.y = np.asarray(labels, dtype=np.int64)
        self.n_classes = n_classes
        self.sampler = TwoStreamBatchSampler(
            np.flatnonzero(self.y >= 0),
            np.flatnonzero(self.y < 0),
            batch_labeled,
            batch_unlabeled,
            seed=stream.seed,
        )
        self.propagator, self.pseudo_labels = propagator, pseudo_labels
        self.entropy_weights, self.class_balance = entropy_weights, class_balance
        self.descriptor, self.consistency = descriptor, consistency
        self.rampup_steps = int(rampup_epochs * self.steps_per_epoch)
        self.teacher = EMATeacher(model, ema_decay) if consistency > 0 else None
        self.pseudo_dir = pseudo_dir
        self.epoch_info: dict = {}
        self._step = 0
        self._set_targets(np.where(self.y >= 0, self.y, 0), (self.y >= 0).astype(float), None)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.sampler)

    def _set_targets(self, targets, omega, zeta) -> None:
        device = self.stream.device
        self.targets = torch.as_tensor(targets, dtype=torch.int64, device=device)
        self.omega = torch.as_tensor(omega, dtype=torch.float32, device=device)
        self.zeta = (
            None if zeta is None else torch.as_tensor(zeta, dtype=torch.float32, device=device)
        )

    def begin_epoch(self, model, epoch: int) -> None:
        """Descriptors → pseudo labels, ω, ζ for this epoch (Iscen Algorithm 1, lines 5-9)."""
        if self.pseudo_labels == "none":  # labeled examples only (weight 0 on the others)
            return
        t0 = time.perf_counter()
        info: dict = {}
        if self.pseudo_labels == "diffusion":
            v = self.stream.embed(model, head=self.descriptor)
            v = F.normalize(v.float(), dim=1).cpu().numpy()
            with warnings.catch_warnings():  # the ≤ 20 CG iterations are the paper's; log residual
                warnings.simplefilter("ignore")
                result = self.propagator.propagate(v, self.y, self.n_classes)
            probabilities = result.probabilities
            info["cg_relative_residual"] = result.info.get("cg_relative_residual", 0.0)
        else:  # the network's own predictions (Iscen Table 1, "network" pseudo labels)
            logits = self.stream.embed(model, head="forward")
            probabilities = F.softmax(logits.float(), dim=1).cpu().numpy().astype(np.float64)
        targets, omega, zeta = pseudo_targets(
            probabilities,
            self.y,
            self.n_classes,
            entropy_weights=self.entropy_weights,
            class_balance=self.class_balance,
        )
        self._set_targets(targets, omega, zeta)
        info["propagate_seconds"] = time.perf_counter() - t0
        info |= record_pseudo_labels(
            epoch,
            targets,
            omega,
            self.y,
            truth=self.truth,
            pseudo_dir=self.pseudo_dir,
            class_weights=zeta.astype(np.float32),
        )
        self.epoch_info = info

    def batches(self, epoch: int):
        return two_stream_batches(self.sampler, self.stream.device, self.stream.seed, epoch)

    def loss(self, model, batch, step):
        idx, gen = batch
        self._step = step
        logits = model(self.stream.view(idx, gen))
        ce = weighted_cross_entropy(
            logits, self.targets[idx], self.omega[idx], self.zeta
        )  # eq. (12)
        if self.teacher is None:
            return ce, {}
        with torch.no_grad():
            teacher_logits = self.teacher.model(self.stream.view(idx, gen))  # another view
        ramp = self.consistency * sigmoid_rampup(step, self.rampup_steps)
        cons = consistency_mse(logits, teacher_logits)
        return ce + ramp * cons, {"ce": float(ce.detach()), "consistency": float(cons.detach())}

    def after_step(self, model, batch):
        if self.teacher is not None:
            self.teacher.update(model, self._step)

    def evaluate(self, model, epoch):
        out = dict(self.epoch_info)
        if self.monitor is not None:
            out.update(self.monitor(model, self.stream))
            if self.teacher is not None:
                teacher = self.monitor(self.teacher.model, self.stream)
                out["teacher_" + self.monitor.name] = teacher[self.monitor.name]
        return out

    def state_dict(self):
        return {"teacher": None if self.teacher is None else self.teacher.model.state_dict()}

    def load_state_dict(self, state):
        if self.teacher is not None:
            self.teacher.model.load_state_dict(state["teacher"])
