"""The weighted-kNN monitor of instance discrimination (Wu et al. 2018)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.images.stream import ImageStream
from .losses import weighted_knn_predict


@dataclass
class KnnMonitor:
    """Wu et al.'s monitor: weighted kNN (K = 200, exp(s/0.1) votes) of held-out images against a
    labeled memory of training embeddings."""

    images: np.ndarray
    labels: np.ndarray
    n_classes: int
    k: int = 200
    tau: float = 0.1

    def __call__(self, model, stream: ImageStream, bank: torch.Tensor, bank_labels) -> dict:
        query = stream.embed(model, self.images)
        labels = torch.as_tensor(np.asarray(bank_labels), device=bank.device)
        known = labels >= 0  # a user's data: only the labeled rows are the memory
        bank, labels = bank[known], labels[known]
        pred = weighted_knn_predict(query, bank, labels, self.n_classes, k=self.k, tau=self.tau)
        return {"knn_accuracy": float(np.mean(pred.cpu().numpy() == self.labels))}
