"""Iscen's two-stream batches: B_L labeled + B_U unlabeled indices per batch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ...errors import InputError


class TwoStreamBatchSampler(torch.utils.data.Sampler):
    """Batches of ``batch_labeled`` labeled + ``batch_unlabeled`` unlabeled indices (Iscen §5).

    One epoch is one pass over the unlabeled indices in a fresh random order (incomplete last
    batch dropped), or ``n_batches`` batches, the unlabeled indices then cycled like the labeled
    ones; the labeled indices are cycled in fresh random orders as often as needed.
    Deterministic in ``seed`` and the epoch (``set_epoch``).
    """

    def __init__(
        self,
        labeled,
        unlabeled,
        batch_labeled: int,
        batch_unlabeled: int,
        *,
        seed: int = 0,
        n_batches: int | None = None,
    ):
        self.labeled = np.asarray(labeled, dtype=np.int64)
        self.unlabeled = np.asarray(unlabeled, dtype=np.int64)
        if batch_labeled < 1 or batch_unlabeled < 1:
            raise InputError("batch_labeled and batch_unlabeled must be at least 1")
        if self.labeled.size == 0 or self.unlabeled.size < batch_unlabeled:
            raise InputError(
                f"need labeled examples and at least {batch_unlabeled} unlabeled ones "
                f"(have {self.labeled.size} and {self.unlabeled.size})"
            )
        if n_batches is not None and n_batches < 1:
            raise InputError(f"n_batches must be at least 1, got {n_batches}")
        self.batch_labeled, self.batch_unlabeled = batch_labeled, batch_unlabeled
        self.seed, self.epoch, self.n_batches = seed, 0, n_batches

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n_batches or self.unlabeled.size // self.batch_unlabeled

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        n_batches = len(self)
        unl = _cycled(rng, self.unlabeled, n_batches * self.batch_unlabeled)
        lab = _cycled(rng, self.labeled, n_batches * self.batch_labeled)
        for b in range(n_batches):
            yield (
                lab[b * self.batch_labeled : (b + 1) * self.batch_labeled].tolist()
                + unl[b * self.batch_unlabeled : (b + 1) * self.batch_unlabeled].tolist()
            )


def _cycled(rng: np.random.Generator, pool: np.ndarray, need: int) -> np.ndarray:
    """``need`` indices: fresh random orders of ``pool`` concatenated, as many as needed."""
    cycles = -(-need // pool.size)
    return np.concatenate([rng.permutation(pool) for _ in range(cycles)])[:need]
