"""The ``llp`` recipe's training task (Zhuang et al. 2019): the memory bank, pseudo labels
propagated over the bank every epoch, and the confidence-weighted category + aggregation loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import distributed
from ..data.images.stream import Batch, ImageStream
from ..evaluate.metrics import nearest_neighbor_accuracy
from ..propagation import PropagationResult
from .aggregation import aggregation_loss
from .classification import AccuracyMonitor
from .memory_bank import MemoryBank
from .pseudo_record import record_epoch
from .task import Task


class LLPTask(Task):
    """The LLP task of :func:`deeplabelprop.train.train`.

    Every epoch (LLP §3): pseudo labels and training weights c for every bank row from
    ``propagate(bank)`` (LLP's own density-weighted vote of the K labeled neighbours, eq. 5-8,
    with c = p_y; or any registered method, an option of ours). Every step: loss
    c · [CE(ŷ) + L_A(v)] (eq. 4; weight decay λ in the optimiser) and the bank update
    v̄_i ← normalise(m v̄_i + (1 - m) v_i). Ablations (LLP Table 6): the ``uniform`` weight
    (c = 1, "woc"), ``category_loss`` off, the local vote without density weighting or with
    another K (settings of the propagator).
    """

    def __init__(
        self,
        stream: ImageStream,
        labels,
        n_classes: int,
        initial_bank: np.ndarray,
        propagate: Callable[[np.ndarray], PropagationResult],
        *,
        tau: float = 0.07,
        momentum: float = 0.5,
        category_loss: bool = True,
        monitor: AccuracyMonitor | None = None,
        truth=None,
        pseudo_dir=None,
        classes=None,
    ):
        device = stream.device
        self.propagate = propagate
        self.stream, self.monitor, self.truth, self.pseudo_dir = stream, monitor, truth, pseudo_dir
        self.y = np.asarray(labels, dtype=np.int64)
        self.n_classes, self.tau, self.classes = n_classes, tau, classes
        self.category_loss = category_loss
        self.bank = MemoryBank(len(self.y), initial_bank.shape[1], momentum=momentum, device=device)
        self.bank.vectors = F.normalize(
            torch.as_tensor(initial_bank, dtype=torch.float32), dim=1
        ).to(device)
        self.epoch_info: dict = {}
        self._last = None
        self.pseudo = torch.as_tensor(np.where(self.y >= 0, self.y, 0), device=device)
        self.confidence = torch.ones(len(self.y), device=device)

    @property
    def steps_per_epoch(self) -> int:
        return self.stream.steps_per_epoch

    def batches(self, epoch: int):
        return self.stream.batches(epoch)

    def begin_epoch(self, model, epoch: int) -> None:
        t0 = time.perf_counter()
        bank = self.bank.vectors.float().cpu().numpy()  # the same bank on every process
        result = distributed.from_main(lambda: self.propagate(bank))  # once, shared
        device = self.bank.vectors.device
        self.pseudo = torch.as_tensor(result.labels, dtype=torch.int64, device=device)
        self.confidence = torch.as_tensor(result.weights, dtype=torch.float32, device=device)
        info = {"propagate_seconds": time.perf_counter() - t0}
        info |= record_epoch(
            epoch, result, truth=self.truth, pseudo_dir=self.pseudo_dir, classes=self.classes
        )
        self.epoch_info = info

    def loss(self, model, batch: Batch, step: int):
        idx = batch.index
        emb, logits = model(self.stream.view(batch), head="heads")
        emb = emb.float()
        targets = self.pseudo[idx]
        agg = aggregation_loss(emb, self.bank.vectors, self.pseudo, targets, self.tau)  # eq. (3)
        per_example = agg
        logs = {"aggregation": agg.mean().detach()}
        if self.category_loss:
            ce = F.cross_entropy(logits.float(), targets, reduction="none")
            per_example = per_example + ce
            logs["category"] = ce.mean().detach()
        self._last = (idx, emb.detach())
        return (self.confidence[idx] * per_example).mean(), logs  # eq. (4)

    def after_step(self, model, batch):
        self.bank.update(*self._last)

    def evaluate(self, model, epoch):
        out = dict(self.epoch_info)
        if self.monitor is not None:
            out.update(self.monitor(model, self.stream))
            test = self.stream.embed(model, self.monitor.images).float()
            out["nn_accuracy"] = nearest_neighbor_accuracy(
                test, self.bank.vectors, self.pseudo, self.monitor.labels
            )
        return out

    def state_dict(self):
        return {"bank": self.bank.state_dict()}

    def load_state_dict(self, state):
        self.bank.load_state_dict(state["bank"])
