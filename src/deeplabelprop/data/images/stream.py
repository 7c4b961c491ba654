"""Training images served as batches: indices, their pixels, and the epoch's generator for the
augmented views. Shared by every training task (pretraining, finetuning, the recipes).

Pixels come from any image source (an array, a memory map, files decoded on demand); with
``num_workers > 0`` they are read or decoded by ``torch.utils.data.DataLoader`` workers, in order.
Augmentation happens afterwards, in the main process on the device, with draws that depend only
on (seed, epoch, batch): the worker count never changes a batch or a view, so resume is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ... import distributed
from .augment import move, normalize, select, to_device, to_tensor
from .dataset import Normalization, channel_statistics, read_one
from .sampling import TwoStreamBatchSampler


class Batch(NamedTuple):
    """One training batch (in a distributed run: this process's slice of the global batch)."""

    index: torch.Tensor  # (B,) int64 on the device: the rows of the data set
    pixels: torch.Tensor  # (B, H, W, C) uint8 on the CPU
    generator: torch.Generator  # the epoch's augmentation draws
    size: int = 0  # the global batch's size (0: this batch is the whole of it)
    offset: int = 0  # where this slice starts in the global batch


class _Rows(torch.utils.data.Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i) -> np.ndarray:
        return read_one(self.images, int(i))


def _stack(items: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(items))


def _read(images, rows: np.ndarray) -> np.ndarray:
    """``images[rows]``; a range of an in-memory array is a slice, not a copy (the same layout,
    so the same convolution kernels, as reading the array directly)."""
    in_memory = isinstance(images, np.ndarray) and images.flags.writeable
    if (
        in_memory
        and rows.size
        and rows[-1] - rows[0] == rows.size - 1
        and (np.diff(rows) == 1).all()
    ):
        return images[int(rows[0]) : int(rows[-1]) + 1]
    return np.asarray(images[rows])


def read_batches(
    images, rows: Sequence[np.ndarray], *, num_workers: int = 0, pin_memory: bool = False
) -> Iterator[torch.Tensor]:
    """The pixels (B, H, W, C) uint8 of each index array in ``rows``, in order.

    With ``num_workers`` = 0 the source is indexed here; otherwise DataLoader workers read (or
    decode) the rows and the batches arrive in the same order.
    """
    if num_workers == 0:
        for r in rows:
            yield torch.as_tensor(_read(images, np.asarray(r)))
        return
    loader = torch.utils.data.DataLoader(
        _Rows(images),
        batch_sampler=[np.asarray(r).tolist() for r in rows],
        num_workers=num_workers,
        collate_fn=_stack,
        pin_memory=pin_memory,
        generator=torch.Generator(),  # the workers' seeds never draw from the global RNG
    )
    yield from loader


@dataclass
class ImageStream:
    """uint8 images (N, H, W, C) served as :class:`Batch` es, and their augmented views.

    Batch order and augmentation draws depend only on (seed, epoch), so a resumed run sees
    exactly the batches an uninterrupted one would. ``normalization`` is the data set's (or an
    encoder's) per-channel mean and std; when None it is computed from ``images``.
    """

    images: object
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor]
    batch_size: int = 256
    seed: int = 0
    device: str = "cpu"
    normalization: Normalization | None = None
    indices: np.ndarray | None = None  # train on these rows only (default: all)
    epoch_size: int | None = None  # examples per epoch; a smaller pool is cycled (default: pool)
    # with labeled_per_batch > 0, every batch holds that many of the ``labeled`` rows and the rest
    # from the other rows of the pool (Iscen's two streams), as many batches as uniform ones
    labeled: np.ndarray | None = None
    labeled_per_batch: int = 0
    num_workers: int = 0

    def __post_init__(self) -> None:
        n = int(self.images.shape[0])
        self.pool = np.arange(n) if self.indices is None else np.asarray(self.indices, np.int64)
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
        if self.normalization is None:
            self.normalization = channel_statistics(self.images)
        self.mean, self.std = self.normalization

    @property
    def steps_per_epoch(self) -> int:
        return self.per_epoch // self.batch_size

    def batch_rows(self, epoch: int) -> tuple[list[np.ndarray], torch.Generator]:
        """The index arrays of every batch of ``epoch`` and the epoch's augmentation generator."""
        if self.sampler is not None:
            return sampler_rows(self.sampler, self.seed, epoch)
        rng = np.random.default_rng([self.seed, epoch])
        # a pool smaller than the epoch is passed over in fresh orders, as often as needed
        cycles = -(-self.steps_per_epoch * self.batch_size // self.pool.size)
        order = np.concatenate([rng.permutation(self.pool) for _ in range(cycles)])
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        b = self.batch_size
        return [np.sort(order[i * b : (i + 1) * b]) for i in range(self.steps_per_epoch)], gen

    def batches(
        self,
        epoch: int,
        rows: list[np.ndarray] | None = None,
        generator: torch.Generator | None = None,
    ) -> Iterator[Batch]:
        """The batches of ``epoch`` (or of the given index arrays and generator, e.g. from a
        task's own sampler), pixels read ahead by the DataLoader workers when there are any."""
        if rows is None:
            rows, gen = self.batch_rows(epoch)
        else:
            gen = generator
        # each process reads and trains on its contiguous slice of every global batch
        parts = [distributed.shard(len(r), len(r)) for r in rows]
        local = [np.asarray(r)[part] for r, part in zip(rows, parts, strict=True)]
        pixels = read_batches(
            self.images, local, num_workers=self.num_workers, pin_memory=self._pin()
        )
        for r, part, own, p in zip(rows, parts, local, pixels, strict=True):
            index = to_device(torch.as_tensor(own), self.device)
            yield Batch(index, p, gen, len(r), part.start)

    def _pin(self) -> bool:
        return str(self.device).startswith("cuda")

    def view(self, batch: Batch) -> torch.Tensor:
        """An augmented, normalised view (B, C, H, W) of the batch's images on the device: the
        draws are those of the whole global batch, this slice's rows applied."""
        x = to_tensor(batch.pixels, self.device)
        if batch.size and batch.size != len(batch.index):
            draws = self.augment.draw(batch.size, batch.generator, x.shape[1])
            rows = slice(batch.offset, batch.offset + len(batch.index))
            x = self.augment.apply(x, move(select(draws, rows), x.device))
        else:
            x = self.augment(x, batch.generator)
        x = normalize(x, self.mean, self.std)
        # channels-last convolutions are faster on GPUs and on oneDNN CPUs (train/precision.py)
        return x.contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def embed(self, model, images=None, batch: int = 1024, *, head: str = "embed") -> torch.Tensor:
        """``model.<head>`` (default: the unit embeddings, (N, D)) of ``images`` (default: the
        stream's), no augmentation, eval mode. ``head="features"`` gives the backbone output,
        ``head="forward"`` the logits. In a distributed run each process embeds its share and
        every process gets all N rows."""
        images = self.images if images is None else images
        n = int(images.shape[0])
        fn = model if head == "forward" else getattr(model, head)
        was_training = model.training
        model.eval()
        part = distributed.shard(n)
        # a process with no rows (fewer rows than processes) embeds row 0 for the output's shape
        start, stop = (part.start, part.stop) if part.stop > part.start else (0, min(1, n))
        rows = [np.arange(s, min(s + batch, stop)) for s in range(start, stop, batch)]
        out = None  # filled in place: one copy of the outputs, never a list plus its concatenation
        pixels = read_batches(images, rows, num_workers=self.num_workers, pin_memory=self._pin())
        for r, p in zip(rows, pixels, strict=True):
            y = fn(normalize(to_tensor(p, self.device), self.mean, self.std))
            if out is None:
                out = torch.empty((stop - start, *y.shape[1:]), dtype=y.dtype, device=y.device)
            out[int(r[0]) - start : int(r[-1]) + 1 - start] = y
        model.train(was_training)
        return distributed.gather_rows(out[: part.stop - part.start], n)


def sampler_rows(
    sampler: TwoStreamBatchSampler, seed: int, epoch: int
) -> tuple[list[np.ndarray], torch.Generator]:
    """The two-stream sampler's batches for ``epoch``, and the one generator of the epoch's
    augmentation draws (seeded by ``seed`` and ``epoch`` only, so a resumed run sees the same
    views)."""
    sampler.set_epoch(epoch)
    gen = torch.Generator().manual_seed(
        int(np.random.default_rng([seed, epoch, 7]).integers(2**62))
    )
    return [np.asarray(idx, dtype=np.int64) for idx in sampler], gen
