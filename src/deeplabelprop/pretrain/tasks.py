"""Pretraining tasks for the training loop: instance discrimination, NCA, bootstrap.

Each wraps an :class:`~deeplabelprop.data.images.stream.ImageStream` (the data, batches and
views) and adds its loss and state; with a :class:`KnnMonitor` it reports the weighted-kNN
test accuracy after every epoch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import distributed
from ..data.images.stream import Batch, ImageStream
from ..train.memory_bank import MemoryBank
from ..train.task import Task
from .losses import (
    estimate_log_partition,
    instance_nce_loss,
    instance_softmax_loss,
    nca_loss,
    two_view_loss,
)
from .monitor import KnnMonitor
from .settings import OBJECTIVES


class _StreamTask(Task):
    def __init__(self, stream: ImageStream, monitor: KnnMonitor | None):
        self.stream, self.monitor = stream, monitor

    @property
    def steps_per_epoch(self) -> int:
        return self.stream.steps_per_epoch

    def batches(self, epoch: int):
        return self.stream.batches(epoch)

    def _memory_bank(self, dim: int, momentum: float) -> MemoryBank:
        """One bank row per training image, seeded like the stream."""
        return MemoryBank(
            len(self.stream.images),
            dim,
            momentum=momentum,
            seed=self.stream.seed,
            device=self.stream.device,
        )


class InstanceDiscrimination(_StreamTask):
    """Wu et al. (2018): each image is its own class; memory bank with momentum, non-parametric
    softmax over the bank (``n_negatives=None``) or NCE with m shared negatives.

    ``objective="two-view"`` replaces the bank softmax by :func:`two_view_loss` (two
    augmentations of each image, contrasted within the batch); the bank is still kept (the
    normalised mean of the two views) for the kNN monitor and for LLP. ``train_labels`` label the
    bank for the monitor.
    """

    def __init__(
        self,
        stream: ImageStream,
        *,
        tau: float = 0.1,
        momentum: float = 0.5,
        n_negatives: int | None = None,
        embedding_dim: int = 128,
        objective: str = "memory-bank",
        monitor: KnnMonitor | None = None,
        train_labels=None,
    ):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        super().__init__(stream, monitor)
        self.bank = self._memory_bank(embedding_dim, momentum)
        self.tau, self.n_negatives, self.objective = tau, n_negatives, objective
        self.train_labels = train_labels
        self.log_z: float | None = None
        self._last: tuple | None = None

    def loss(self, model, batch: Batch, step: int):
        idx, gen = batch.index, batch.generator
        if self.objective == "two-view":
            b = idx.shape[0]
            views = torch.cat([self.stream.view(batch), self.stream.view(batch)])
            z = model(views, head="embed")  # (2B, D)
            self._last = (idx, F.normalize(z[:b].detach() + z[b:].detach(), dim=1))
            # in-batch negatives from every process; each holds the global loss (see distributed)
            z1, z2 = (
                distributed.gather_batch_with_grad(z[:b]),
                distributed.gather_batch_with_grad(z[b:]),
            )
            loss = two_view_loss(z1, z2, self.tau)
            return loss * distributed.world_size(), {"loss": loss.detach()}
        emb = model(self.stream.view(batch), head="embed")  # (B, D)
        if self.n_negatives is None:
            loss = instance_softmax_loss(emb, self.bank.vectors, idx, self.tau)
        else:
            if self.log_z is None:  # Wu et al.: Z estimated once, from the first (global) batch
                first = distributed.gather_batch(emb.detach())
                self.log_z = estimate_log_partition(first, self.bank.vectors, self.tau)
            loss = instance_nce_loss(
                emb, self.bank.vectors, idx, self.tau, self.n_negatives, self.log_z, gen
            )
        self._last = (idx, emb.detach())
        return loss, {}

    def after_step(self, model, batch):
        self.bank.update(*self._last)

    def evaluate(self, model, epoch):
        if self.monitor is None or self.train_labels is None:
            return {}
        return self.monitor(model, self.stream, self.bank.vectors, self.train_labels)

    def state_dict(self):
        return {"bank": self.bank.state_dict(), "log_z": self.log_z}

    def load_state_dict(self, state):
        self.bank.load_state_dict(state["bank"])
        self.log_z = state["log_z"]


class NCAPretraining(_StreamTask):
    """Supervised neighbourhood component analysis on a labeled source set (DMT eq. 4), with a
    memory bank of the source embeddings."""

    def __init__(
        self,
        stream: ImageStream,
        labels,
        *,
        tau: float = 0.1,
        momentum: float = 0.5,
        embedding_dim: int = 128,
        monitor: KnnMonitor | None = None,
    ):
        super().__init__(stream, monitor)
        self.labels = torch.as_tensor(labels, device=stream.device)
        self.bank = self._memory_bank(embedding_dim, momentum)
        self.tau = tau
        self._last: tuple | None = None

    def loss(self, model, batch: Batch, step: int):
        idx = batch.index
        emb = model(self.stream.view(batch), head="embed")
        self._last = (idx, emb.detach())
        return nca_loss(emb, self.bank.vectors, idx, self.labels, self.tau), {}

    def after_step(self, model, batch):
        self.bank.update(*self._last)

    def evaluate(self, model, epoch):
        return (
            {}
            if self.monitor is None
            else self.monitor(model, self.stream, self.bank.vectors, self.labels)
        )

    def state_dict(self):
        return {"bank": self.bank.state_dict()}

    def load_state_dict(self, state):
        self.bank.load_state_dict(state["bank"])


class SupervisedBootstrap(_StreamTask):
    """Cross-entropy on the few labeled examples only (DMT's "bootstrapping" metric).

    ``reference``: an ImageStream of labeled training images used as the monitor's kNN memory.
    """

    trains_every_head = False  # the classifier only

    def __init__(
        self,
        stream: ImageStream,
        labels,
        *,
        monitor: KnnMonitor | None = None,
        reference: tuple[ImageStream, object] | None = None,
    ):
        super().__init__(stream, monitor)
        self.labels = torch.as_tensor(labels, device=stream.device)
        self.reference = reference

    def loss(self, model, batch: Batch, step: int):
        return F.cross_entropy(model(self.stream.view(batch)), self.labels[batch.index]), {}

    def evaluate(self, model, epoch):
        if self.monitor is None or self.reference is None:
            return {}
        ref_stream, ref_labels = self.reference
        return self.monitor(model, self.stream, ref_stream.embed(model), ref_labels)
