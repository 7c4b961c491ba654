"""Pretraining tasks for the training loop: instance discrimination, NCA, bootstrap.

Each holds its images in memory, draws batches and augmentations from (seed, epoch) so a
resumed run sees exactly the batches an uninterrupted one would, and reports the weighted-kNN
monitor of Wu et al. (K = 200) on held-out images when given.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..data.augment import NORMALIZATION, normalize, to_tensor
from .losses import (
    estimate_log_partition,
    instance_nce_loss,
    instance_softmax_loss,
    nca_loss,
    two_view_loss,
    weighted_knn_predict,
)
from .memory_bank import MemoryBank


@torch.no_grad()
def embed_images(model, images: np.ndarray, mean, std, device, batch: int = 1024) -> torch.Tensor:
    """Unit embeddings (N, D) of uint8 images (N, H, W, C), no augmentation, eval mode."""
    was_training = model.training
    model.eval()
    out = [
        model.embed(normalize(to_tensor(images[s : s + batch], device), mean, std))
        for s in range(0, len(images), batch)
    ]
    model.train(was_training)
    return torch.cat(out)


class _ImageTask:
    """Shared plumbing: in-memory images, shuffled batches per epoch, seeded augmentation."""

    def __init__(
        self, images, augment, *, batch_size, seed, device, dataset, monitor=None, n_classes=None
    ):
        self.images = images
        self.augment = augment
        self.batch_size = min(batch_size, len(images))
        self.seed, self.device = seed, device
        self.mean, self.std = NORMALIZATION.get(
            dataset, ((0.5,) * images.shape[-1], (0.25,) * images.shape[-1])
        )
        self.monitor, self.n_classes = monitor, n_classes
        self.steps_per_epoch = len(images) // self.batch_size

    def batches(self, epoch: int):
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.images))
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        for b in range(self.steps_per_epoch):
            idx = np.sort(order[b * self.batch_size : (b + 1) * self.batch_size])
            yield torch.from_numpy(idx).to(self.device), gen

    def view(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x = to_tensor(self.images[idx.cpu().numpy()], self.device)
        return normalize(self.augment(x, gen), self.mean, self.std)

    def knn_monitor(self, model, bank: torch.Tensor, bank_labels: torch.Tensor) -> dict:
        if self.monitor is None:
            return {}
        test_images, test_labels = self.monitor
        q = embed_images(model, test_images, self.mean, self.std, self.device)
        pred = (
            weighted_knn_predict(q, bank, bank_labels, self.n_classes, k=200, tau=0.1).cpu().numpy()
        )
        return {"knn_accuracy": float(np.mean(pred == test_labels))}


class InstanceDiscrimination(_ImageTask):
    """Wu et al. (2018): each image is its own class; memory bank with momentum, non-parametric
    softmax over the bank (``n_negatives=None``) or NCE with m negatives.

    ``objective="two-view"`` replaces the bank softmax by the two-view loss of
    :func:`two_view_loss` (two augmentations of each image, contrasted within the batch); the
    bank is still kept (mean of the two views) for the kNN monitor and for LLP.

    ``monitor=(test_images, test_labels)`` with ``train_labels`` reports the weighted-kNN test
    accuracy each epoch using the memory bank as the labeled memory.
    """

    def __init__(
        self,
        images,
        augment,
        *,
        tau=0.1,
        momentum=0.5,
        n_negatives=None,
        embedding_dim=128,
        batch_size=256,
        seed=0,
        device="cpu",
        dataset="",
        monitor=None,
        train_labels=None,
        n_classes=None,
        objective="memory-bank",
    ):
        super().__init__(
            images,
            augment,
            batch_size=batch_size,
            seed=seed,
            device=device,
            dataset=dataset,
            monitor=monitor,
            n_classes=n_classes,
        )
        self.bank = MemoryBank(
            len(images), embedding_dim, momentum=momentum, seed=seed, device=device
        )
        self.tau, self.n_negatives, self.objective = tau, n_negatives, objective
        if objective not in ("memory-bank", "two-view"):
            raise ValueError(f"objective must be 'memory-bank' or 'two-view', got {objective!r}")
        self.train_labels = (
            None if train_labels is None else torch.as_tensor(train_labels, device=device)
        )
        self.log_z: float | None = None
        self._last: tuple | None = None

    def loss(self, model, batch, step):
        idx, gen = batch
        if self.objective == "two-view":
            b = idx.shape[0]
            z = model.embed(torch.cat([self.view(idx, gen), self.view(idx, gen)]))  # (2B, D)
            self._last = (idx, F.normalize(z[:b].detach() + z[b:].detach(), dim=1))
            return two_view_loss(z[:b], z[b:], self.tau), {}
        emb = model.embed(self.view(idx, gen))  # (B, D)
        if self.n_negatives is None:
            loss = instance_softmax_loss(emb, self.bank.vectors, idx, self.tau)
        else:
            if self.log_z is None:  # Wu et al.: Z estimated once, from the first batch
                self.log_z = estimate_log_partition(emb.detach(), self.bank.vectors, self.tau)
            loss = instance_nce_loss(
                emb, self.bank.vectors, idx, self.tau, self.n_negatives, self.log_z, gen
            )
        self._last = (idx, emb.detach())
        return loss, {}

    def after_step(self, model, batch):
        idx, emb = self._last
        self.bank.update(idx, emb)

    def evaluate(self, model, epoch):
        if self.train_labels is None:
            return {}
        return self.knn_monitor(model, self.bank.vectors, self.train_labels)

    def state_dict(self):
        return {"bank": self.bank.state_dict(), "log_z": self.log_z}

    def load_state_dict(self, state):
        self.bank.load_state_dict(state["bank"])
        self.log_z = state["log_z"]


class NCAPretraining(_ImageTask):
    """Supervised neighbourhood component analysis on a labeled source set (DMT eq. 4), with a
    memory bank of the source embeddings."""

    def __init__(
        self,
        images,
        labels,
        augment,
        *,
        tau=0.1,
        momentum=0.5,
        embedding_dim=128,
        batch_size=256,
        seed=0,
        device="cpu",
        dataset="",
        monitor=None,
        n_classes=None,
    ):
        super().__init__(
            images,
            augment,
            batch_size=batch_size,
            seed=seed,
            device=device,
            dataset=dataset,
            monitor=monitor,
            n_classes=n_classes,
        )
        self.labels = torch.as_tensor(labels, device=device)
        self.bank = MemoryBank(
            len(images), embedding_dim, momentum=momentum, seed=seed, device=device
        )
        self.tau = tau
        self._last = None

    def loss(self, model, batch, step):
        idx, gen = batch
        emb = model.embed(self.view(idx, gen))
        self._last = (idx, emb.detach())
        return nca_loss(emb, self.bank.vectors, idx, self.labels, self.tau), {}

    def after_step(self, model, batch):
        self.bank.update(*self._last)

    def evaluate(self, model, epoch):
        return self.knn_monitor(model, self.bank.vectors, self.labels)

    def state_dict(self):
        return {"bank": self.bank.state_dict()}

    def load_state_dict(self, state):
        self.bank.load_state_dict(state["bank"])


class SupervisedBootstrap(_ImageTask):
    """Cross-entropy on the few labeled examples only (DMT's "bootstrapping" metric)."""

    def __init__(
        self,
        images,
        labels,
        augment,
        *,
        batch_size=64,
        seed=0,
        device="cpu",
        dataset="",
        monitor=None,
        n_classes=None,
        reference=None,
    ):
        super().__init__(
            images,
            augment,
            batch_size=batch_size,
            seed=seed,
            device=device,
            dataset=dataset,
            monitor=monitor,
            n_classes=n_classes,
        )
        self.labels = torch.as_tensor(labels, device=device)
        self.reference = reference  # (images, labels) used as the kNN memory for the monitor

    def loss(self, model, batch, step):
        idx, gen = batch
        return F.cross_entropy(model(self.view(idx, gen)), self.labels[idx]), {}

    def after_step(self, model, batch):
        return None

    def evaluate(self, model, epoch):
        if self.reference is None:
            return {}
        images, labels = self.reference
        bank = embed_images(model, images, self.mean, self.std, self.device)
        return self.knn_monitor(model, bank, torch.as_tensor(labels, device=self.device))

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        return None
