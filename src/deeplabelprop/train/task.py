"""The contract between the training loop and what it trains: a :class:`Task`.

A task supplies the data (batches), the loss, and any state that must survive a resume (a memory
bank, pseudo labels); the loop (:func:`deeplabelprop.train.train`) owns optimisation,
checkpoints, the EMA teacher and logging. Subclasses implement :meth:`Task.batches`,
:meth:`Task.loss` and :attr:`Task.steps_per_epoch`; every other hook does nothing by default.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import nn

from .ema import EMATeacher


class Task(ABC):
    """One training objective, deterministic in (seed, epoch) so that a resumed run is exact."""

    #: False when the loss uses only some of the network's heads (a classification loss leaves
    #: the embedding head untouched); DistributedDataParallel then looks for unused parameters
    trains_every_head: ClassVar[bool] = True

    #: the loop's EMA teacher (Mean Teacher) when ``TrainConfig.ema_decay`` is set, else None
    teacher: EMATeacher | None = None

    @property
    @abstractmethod
    def steps_per_epoch(self) -> int:
        """Batches per epoch (the loop precomputes its learning-rate schedule from it)."""

    @abstractmethod
    def batches(self, epoch: int) -> Iterable[Any]:
        """The batches of ``epoch``, the same on every call with the same epoch."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict]:
        """(scalar loss to minimise, dict of values to log: floats or detached scalar tensors,
        summed on the device by the loop) for one batch at global ``step``."""

    def begin_epoch(self, model: nn.Module, epoch: int) -> None:
        """Before the first batch of ``epoch`` (e.g. refresh pseudo labels); from the model and
        state of a checkpoint when resuming, so a resumed epoch starts exactly as it did."""
        return None

    def after_step(self, model: nn.Module, batch: Any) -> None:
        """After the optimiser step (e.g. a memory-bank update)."""
        return None

    def evaluate(self, model: nn.Module, epoch: int) -> dict:
        """End-of-epoch metrics (floats), logged to metrics.jsonl."""
        return {}

    def state_dict(self) -> dict:
        """What the task needs to resume (tensors and plain Python values only)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
        return None
