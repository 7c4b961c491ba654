"""Training images in memory: shuffled batches per epoch and seeded augmented views.

Shared by every training task (pretraining, finetuning, the recipes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from .augment import NORMALIZATION, normalize, to_tensor
from .sampling import TwoStreamBatchSampler, two_stream_batches


@dataclass
class ImageStream:
    """uint8 images (N, H, W, C) served as batches of indices with a generator for their views.

    Batch order and augmentation draws depend only on (seed, epoch), so a resumed run sees
    exactly the batches an uninterrupted one would.
    """

    images: np.ndarray
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor]
    batch_size: int = 256
    seed: int = 0
    device: str = "cpu"
    dataset: str = ""
    indices: np.ndarray | None = None  # train on these rows only (default: all)
    epoch_size: int | None = None  # examples per epoch; a smaller pool is cycled (default: pool)
    # with labeled_per_batch > 0, every batch holds that many of the ``labeled`` rows and the rest
    # from the other rows of the pool (Iscen's two streams), as many batches as uniform ones
    labeled: np.ndarray | None = None
    labeled_per_batch: int = 0
    mean: tuple = field(init=False)
    std: tuple = field(init=False)

    def __post_init__(self) -> None:
        self.pool = (
            np.arange(len(self.images))
            if self.indices is None
            else np.asarray(self.indices, np.int64)
        )
        if self.pool.size == 0:
            raise ValueError("an ImageStream needs at least one image")
        if self.epoch_size is not None and self.epoch_size < 1:
            raise ValueError(f"epoch_size must be at least 1, got {self.epoch_size}")
        self.per_epoch = max(self.pool.size, self.epoch_size or 0)
        self.batch_size = min(self.batch_size, self.per_epoch)
        self.sampler = None
        if self.labeled_per_batch:
            if not 0 < self.labeled_per_batch < self.batch_size or self.labeled is None:
                raise ValueError(
                    f"labeled_per_batch must be in [0, batch_size={self.batch_size}) and needs "
                    f"the labeled rows, got {self.labeled_per_batch}"
                )
            labeled = np.asarray(self.labeled, np.int64)
            self.sampler = TwoStreamBatchSampler(
                labeled,
                np.setdiff1d(self.pool, labeled),
                self.labeled_per_batch,
                self.batch_size - self.labeled_per_batch,
                seed=self.seed,
                n_batches=self.steps_per_epoch,
            )
        channels = self.images.shape[-1]
        self.mean, self.std = NORMALIZATION.get(
            self.dataset, ((0.5,) * channels, (0.25,) * channels)
        )

    @property
    def steps_per_epoch(self) -> int:
        return self.per_epoch // self.batch_size

    def batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Generator]]:
        if self.sampler is not None:
            yield from two_stream_batches(self.sampler, self.device, self.seed, epoch)
            return
        rng = np.random.default_rng([self.seed, epoch])
        # a pool smaller than the epoch is passed over in fresh orders, as often as needed
        cycles = -(-self.steps_per_epoch * self.batch_size // self.pool.size)
        order = np.concatenate([rng.permutation(self.pool) for _ in range(cycles)])
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        for b in range(self.steps_per_epoch):
            idx = np.sort(order[b * self.batch_size : (b + 1) * self.batch_size])
            yield torch.from_numpy(idx).to(self.device), gen

    def view(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """An augmented, normalised view (B, C, H, W) of the images ``idx``."""
        x = to_tensor(self.images[idx.cpu().numpy()], self.device)
        x = normalize(self.augment(x, gen), self.mean, self.std)
        # channels-last convolutions are faster on GPUs and on oneDNN CPUs (train/precision.py)
        return x.contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def embed(
        self, model, images: np.ndarray | None = None, batch: int = 1024, *, head: str = "embed"
    ) -> torch.Tensor:
        """``model.<head>`` (default: the unit embeddings, (N, D)) of ``images`` (default: the
        stream's), no augmentation, eval mode. ``head="features"`` gives the backbone output,
        ``head="forward"`` the logits."""
        images = self.images if images is None else images
        fn = model if head == "forward" else getattr(model, head)
        was_training = model.training
        model.eval()
        out = [
            fn(normalize(to_tensor(images[s : s + batch], self.device), self.mean, self.std))
            for s in range(0, len(images), batch)
        ]
        model.train(was_training)
        return torch.cat(out)
