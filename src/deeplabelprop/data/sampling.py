"""An in-memory torch Dataset and Iscen's two-stream batches (B_L labeled + B_U unlabeled)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..errors import InputError


class InMemoryImages(torch.utils.data.Dataset):
    """Items ``(image, target, index)``: image uint8 (H, W, C) as a tensor, target -1 if unknown.

    Augmentation is batched (:mod:`deeplabelprop.data.augment`) after collation, on the device.
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray):
        if len(images) != len(targets):
            raise InputError(f"{len(images)} images but {len(targets)} targets")
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.targets = torch.from_numpy(np.asarray(targets, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return self.images[i], self.targets[i], i


class TwoStreamBatchSampler(torch.utils.data.Sampler):
    """Batches of ``batch_labeled`` labeled + ``batch_unlabeled`` unlabeled indices (Iscen §5).

    One epoch is one pass over the unlabeled indices in a fresh random order (incomplete last
    batch dropped); the labeled indices are cycled in fresh random orders as often as needed.
    Deterministic in ``seed`` and the epoch (``set_epoch``).
    """

    def __init__(
        self, labeled, unlabeled, batch_labeled: int, batch_unlabeled: int, *, seed: int = 0
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
        self.batch_labeled, self.batch_unlabeled = batch_labeled, batch_unlabeled
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.unlabeled.size // self.batch_unlabeled

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        unl = rng.permutation(self.unlabeled)
        n_batches = len(self)
        need = n_batches * self.batch_labeled
        cycles = -(-need // self.labeled.size)
        lab = np.concatenate([rng.permutation(self.labeled) for _ in range(cycles)])[:need]
        for b in range(n_batches):
            yield (
                lab[b * self.batch_labeled : (b + 1) * self.batch_labeled].tolist()
                + unl[b * self.batch_unlabeled : (b + 1) * self.batch_unlabeled].tolist()
            )
