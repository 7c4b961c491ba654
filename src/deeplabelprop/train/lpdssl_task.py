"""The ``lpdssl`` recipe's stage 2 (Iscen et al. 2019) as a training task: pseudo labels
refreshed every epoch.

At the start of every epoch: descriptors of all training images, then pseudo labels ŷ with their
training weights (ω, eq. 11, for Iscen's diffusion) and class weights ζ (§4), from any
registered propagator (diffusion in the paper, Algorithm 1), from the network's own predictions
(the paper's ablation), or none (supervised / Mean Teacher baselines). Then one epoch of the
weighted loss L_w (eq. 12) on batches of B_L labeled + B_U unlabeled images, plus the optional
Mean Teacher consistency (eq. 4) against the loop's EMA teacher.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning

from .. import distributed
from ..data.images.sampling import TwoStreamBatchSampler
from ..data.images.stream import Batch, ImageStream, sampler_rows
from ..errors import InputError
from ..propagation import PropagationResult, example_weights
from ..propagation.result import finalize
from .classification import AccuracyMonitor
from .losses import consistency_mse, sigmoid_rampup, weighted_cross_entropy
from .pseudo_record import record_epoch
from .task import Task

PSEUDO_SOURCES = ("propagation", "network", "none")
DESCRIPTORS = ("features", "embed")


def network_pseudo_labels(
    logits: torch.Tensor, labels: np.ndarray, weight: str
) -> PropagationResult:
    """The network's own predictions as pseudo labels (Iscen Table 1, "network"), with the
    training weight ``weight`` of their softmax."""
    p = F.softmax(logits.float(), dim=1).cpu().numpy().astype(np.float64)
    return finalize(labels, p, p, example_weights(weight, p, labels >= 0), weight_name=weight)


class LPDSSLTask(Task):
    """Stage 2 of ``lpdssl`` for :func:`deeplabelprop.train.train`.

    Parameters
    ----------
    stream : ImageStream over all training images (views and descriptors)
    labels : (N,) ints, -1 on unlabeled images
    propagate : callable ((N, d) descriptors, calibrate=False) -> PropagationResult, with the
        training weight in ``weights``; used when ``pseudo_labels="propagation"``
    pseudo_labels : "propagation" | "network" | "none"
    network_weight : the training weight of network pseudo labels (Iscen: "entropy")
    class_balance : ζ in the loss (eq. 12), else 1
    consistency : weight of the Mean Teacher term (0: off; needs the loop's EMA teacher),
        ramped up over ``rampup_epochs``
    truth : (N,) true labels, only to report the pseudo-label accuracy each epoch
    pseudo_dir : where each epoch's pseudo labels go (``epoch_000.npz`` ...)
    """

    trains_every_head = False  # the classifier only

    def __init__(
        self,
        stream: ImageStream,
        labels,
        n_classes: int,
        *,
        batch_labeled: int = 50,
        batch_unlabeled: int = 50,
        propagate: Callable[[np.ndarray], PropagationResult] | None = None,
        pseudo_labels: str = "propagation",
        network_weight: str = "entropy",
        class_balance: bool = True,
        descriptor: str = "features",
        consistency: float = 0.0,
        rampup_epochs: float = 0,
        monitor: AccuracyMonitor | None = None,
        truth=None,
        pseudo_dir=None,
        classes=None,
    ):
        if pseudo_labels not in PSEUDO_SOURCES:
            raise InputError(
                f"pseudo_labels must be one of {', '.join(PSEUDO_SOURCES)}, got {pseudo_labels!r}"
            )
        if descriptor not in DESCRIPTORS:
            raise InputError(
                f"descriptor must be one of {', '.join(DESCRIPTORS)}, got {descriptor!r}"
            )
        if pseudo_labels == "propagation" and propagate is None:
            raise InputError("pseudo_labels='propagation' needs a propagate function")
        self.stream, self.monitor, self.truth = stream, monitor, truth
        self.y = np.asarray(labels, dtype=np.int64)
        self.n_classes, self.classes = n_classes, classes
        self.sampler = TwoStreamBatchSampler(
            np.flatnonzero(self.y >= 0),
            np.flatnonzero(self.y < 0),
            batch_labeled,
            batch_unlabeled,
            seed=stream.seed,
        )
        self.propagate, self.pseudo_labels = propagate, pseudo_labels
        self.network_weight, self.class_balance = network_weight, class_balance
        self.descriptor, self.consistency = descriptor, consistency
        self.rampup_steps = int(rampup_epochs * self.steps_per_epoch)
        self.pseudo_dir = pseudo_dir
        self.epoch_info: dict = {}
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

    def pseudo_result(self, model, *, calibrate: bool = False) -> PropagationResult:
        """Pseudo labels from ``model`` (Iscen Algorithm 1, lines 5-9): propagated over its
        descriptors (their confidence calibrated when asked: for the final, user-facing labels),
        or its own predictions ("network", and "none" when asked)."""
        if self.pseudo_labels != "propagation":
            logits = self.stream.embed(model, head="forward")
            return network_pseudo_labels(logits, self.y, self.network_weight)
        v = self.stream.embed(model, head=self.descriptor)  # every process: its share, gathered
        v = F.normalize(v.float(), dim=1).cpu().numpy()
        with warnings.catch_warnings():  # the ≤ 20 CG iterations are the paper's; log residual
            warnings.simplefilter("ignore", ConvergenceWarning)
            # computed once, on rank 0, and shared: every process trains on the same labels
            return distributed.from_main(lambda: self.propagate(v, calibrate=calibrate))

    def begin_epoch(self, model, epoch: int) -> None:
        if self.pseudo_labels == "none":  # labeled examples only (weight 0 on the others)
            return
        t0 = time.perf_counter()
        result = self.pseudo_result(model)
        zeta = result.class_weights if self.class_balance else np.ones(self.n_classes)
        self._set_targets(result.labels, result.weights, zeta)
        info = {"propagate_seconds": time.perf_counter() - t0}
        if "cg_relative_residual" in result.info:
            info["cg_relative_residual"] = result.info["cg_relative_residual"]
        info |= record_epoch(
            epoch, result, truth=self.truth, pseudo_dir=self.pseudo_dir, classes=self.classes
        )
        self.epoch_info = info

    def batches(self, epoch: int):
        rows, gen = sampler_rows(self.sampler, self.stream.seed, epoch)
        return self.stream.batches(epoch, rows, generator=gen)

    def loss(self, model, batch: Batch, step: int):
        idx = batch.index
        logits = model(self.stream.view(batch))
        ce = weighted_cross_entropy(
            logits, self.targets[idx], self.omega[idx], self.zeta
        )  # eq. (12)
        if self.consistency <= 0:
            return ce, {}
        if self.teacher is None:
            raise InputError(
                "the Mean Teacher consistency needs the loop's EMA teacher (ema_decay)"
            )
        with torch.no_grad():
            teacher_logits = self.teacher.model(self.stream.view(batch))  # another view
        ramp = self.consistency * sigmoid_rampup(step, self.rampup_steps)
        cons = consistency_mse(logits, teacher_logits)
        return ce + ramp * cons, {"ce": ce.detach(), "consistency": cons.detach()}

    def evaluate(self, model, epoch):
        out = dict(self.epoch_info)
        if self.monitor is not None:
            out.update(self.monitor(model, self.stream))
            if self.teacher is not None:
                teacher = self.monitor(self.teacher.model, self.stream)
                out["teacher_" + self.monitor.name] = teacher[self.monitor.name]
        return out
