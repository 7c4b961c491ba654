"""Local Label Propagation (Zhuang et al. 2019) as a training task: the memory bank, the
density-weighted votes every epoch, and the confidence-weighted category + aggregation loss.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from ..data.stream import ImageStream
from ..pretrain.memory_bank import MemoryBank
from ..propagation.local import labeled_log_density, local_votes
from .classification import AccuracyMonitor
from .precision import full_precision
from .pseudo_record import record_pseudo_labels


@full_precision
def aggregation_loss(
    embeddings: torch.Tensor,
    bank: torch.Tensor,
    bank_labels: torch.Tensor,
    targets: torch.Tensor,
    tau: float = 0.07,
) -> torch.Tensor:
    """LLP eq. (1)-(3) per example: L_A(v) = -log Σ_{i: y_i = y} P(i|v), with
    P(i|v) = exp(v_iᵀv/τ) / Σ_j exp(v_jᵀv/τ) over the whole bank.

    embeddings (B, D) unit rows; bank (N, D) unit rows with (pseudo) labels ``bank_labels`` (N,);
    targets (B,) the (pseudo) label y of each embedding. Returns (B,).
    """
    logits = embeddings @ bank.T / tau  # (B, N)
    if 2.0 / tau > 80.0:  # exp(-2/τ) could underflow in float32: masked log-sum-exp instead
        same = bank_labels[None, :] == targets[:, None]
        log_a = torch.logsumexp(logits.masked_fill(~same, -float("inf")), dim=1)
        return torch.logsumexp(logits, dim=1) - log_a
    # unit vectors: logits lie within 2/τ of the row maximum, so exp(logits - max) ≥ e^-80 > 0;
    # Σ_{i∈A} is then one matmul with the one-hot bank labels (no B × N mask)
    shifted = torch.exp(logits - logits.max(dim=1, keepdim=True).values.detach())
    n_classes = int(max(int(bank_labels.max()), int(targets.max()))) + 1
    onehot = torch.zeros(bank.shape[0], n_classes, dtype=shifted.dtype, device=shifted.device)
    onehot[torch.arange(bank.shape[0], device=bank.device), bank_labels] = 1.0
    per_class = shifted @ onehot  # (B, C): Σ over the bank rows of each class
    return torch.log(per_class.sum(dim=1)) - torch.log(
        per_class.gather(1, targets[:, None]).squeeze(1)
    )


def nearest_neighbor_accuracy(
    queries: torch.Tensor, bank: torch.Tensor, bank_labels: torch.Tensor, truth, block: int = 4096
) -> float:
    """LLP Table 6's NN accuracy: each query takes the (pseudo) label of its nearest bank row."""
    pred = torch.cat(
        [
            bank_labels[(queries[s : s + block] @ bank.T).argmax(1)]
            for s in range(0, len(queries), block)
        ]
    )
    return float(np.mean(pred.cpu().numpy() == np.asarray(truth)))


class LocalLabelPropagation:
    """The LLP task of :func:`deeplabelprop.train.train`.

    Every epoch (LLP §3): log ρ of the labeled bank rows (eq. 7, T neighbours), pseudo labels and
    confidences c = p_y for every row from its K labeled neighbours weighted P(i|v)/ρ(v_i)
    (eq. 8). Every step: loss c · [CE(ŷ) + L_A(v)] (eq. 4; weight decay λ in the optimiser) and the
    bank update v̄_i ← normalise(m v̄_i + (1 - m) v_i).

    Ablations (LLP Table 6): ``confidence_weighting`` (c = 1 when off), ``category_loss`` (CE off),
    ``density_weighting`` (plain weighted kNN, eq. 5), ``n_voters`` K.

    An option of ours: ``propagator`` (e.g. ``Diffusion(n_neighbors=10)``) replaces the local
    vote of eq. (8) by that propagator on the whole bank; its pseudo labels and its own
    confidence (``PropagationResult.confidence``: Iscen's ω for diffusion) then drive eq. (4).
    With few labels a vote among the K nearest labeled rows sees little of the data manifold.
    """

    def __init__(
        self,
        stream: ImageStream,
        labels,
        n_classes: int,
        initial_bank: np.ndarray,
        *,
        tau: float = 0.07,
        momentum: float = 0.5,
        n_voters: int = 10,
        n_density: int = 25,
        density_weighting: bool = True,
        confidence_weighting: bool = True,
        category_loss: bool = True,
        monitor: AccuracyMonitor | None = None,
        truth=None,
        pseudo_dir=None,
        propagator=None,
    ):
        device = stream.device
        self.propagator = propagator
        self.stream, self.monitor, self.truth, self.pseudo_dir = stream, monitor, truth, pseudo_dir
        self.y = np.asarray(labels, dtype=np.int64)
        self.n_classes, self.tau = n_classes, tau
        self.n_voters, self.n_density = n_voters, n_density
        self.density_weighting = density_weighting
        self.confidence_weighting, self.category_loss = confidence_weighting, category_loss
        self.bank = MemoryBank(len(self.y), initial_bank.shape[1], momentum=momentum, device=device)
        self.bank.vectors = F.normalize(
            torch.as_tensor(initial_bank, dtype=torch.float32), dim=1
        ).to(device)
        self.labeled = torch.as_tensor(np.flatnonzero(self.y >= 0), device=device)
        self.labeled_classes = torch.as_tensor(self.y[self.y >= 0], device=device)
        self.epoch_info: dict = {}
        self._last = None
        self.pseudo = torch.as_tensor(np.where(self.y >= 0, self.y, 0), device=device)
        self.confidence = torch.ones(len(self.y), device=device)

    @property
    def steps_per_epoch(self) -> int:
        return self.stream.steps_per_epoch

    def batches(self, epoch: int):
        return self.stream.batches(epoch)

    @torch.no_grad()
    def propagate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(pseudo labels, confidence) of every bank row from the current bank (LLP eq. 5-8)."""
        bank = self.bank.vectors
        if self.propagator is not None:
            result = self.propagator.propagate(bank.float().cpu().numpy(), self.y, self.n_classes)
            pseudo = torch.as_tensor(result.labels, dtype=torch.int64, device=bank.device)
            conf = torch.as_tensor(result.confidence, dtype=torch.float32, device=bank.device)
            pseudo[self.labeled] = self.labeled_classes
            conf[self.labeled] = 1.0
            return pseudo, conf
        log_rho = labeled_log_density(bank, self.labeled, tau=self.tau, n_density=self.n_density)
        p = local_votes(
            bank,
            self.labeled,
            self.labeled_classes,
            log_rho,
            self.n_classes,
            tau=self.tau,
            n_voters=self.n_voters,
            density_weighting=self.density_weighting,
        )
        conf, pseudo = p.max(dim=1)  # eq. (6): y = argmax p_j, c = p_y
        pseudo[self.labeled] = self.labeled_classes
        conf[self.labeled] = 1.0
        return pseudo, conf.float()

    def begin_epoch(self, model, epoch: int) -> None:
        t0 = time.perf_counter()
        self.pseudo, self.confidence = self.propagate()
        info = {"propagate_seconds": time.perf_counter() - t0}
        info |= record_pseudo_labels(
            epoch,
            self.pseudo.cpu().numpy(),
            self.confidence.cpu().numpy(),
            self.y,
            truth=self.truth,
            pseudo_dir=self.pseudo_dir,
        )
        self.epoch_info = info

    def loss(self, model, batch, step):
        idx, gen = batch
        emb, logits = model.heads(self.stream.view(idx, gen))
        emb = emb.float()
        targets = self.pseudo[idx]
        agg = aggregation_loss(emb, self.bank.vectors, self.pseudo, targets, self.tau)  # eq. (3)
        per_example = agg
        logs = {"aggregation": float(agg.mean().detach())}
        if self.category_loss:
            ce = F.cross_entropy(logits.float(), targets, reduction="none")
            per_example = per_example + ce
            logs["category"] = float(ce.mean().detach())
        c = self.confidence[idx] if self.confidence_weighting else torch.ones_like(per_example)
        self._last = (idx, emb.detach())
        return (c * per_example).mean(), logs  # eq. (4)

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
