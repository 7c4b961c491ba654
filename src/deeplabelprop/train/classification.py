"""Training a classifier on labels and weighted pseudo labels (DMT eq. 10, Iscen eq. 12)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.images.stream import Batch, ImageStream
from .losses import weighted_cross_entropy
from .task import Task


@dataclass
class AccuracyMonitor:
    """Classifier accuracy on held-out images (no augmentation)."""

    images: np.ndarray
    labels: np.ndarray
    name: str = "test_accuracy"

    @torch.no_grad()
    def predict(self, model, stream: ImageStream, batch: int = 1024) -> np.ndarray:
        """Predicted classes (N,) of the held-out images, in eval mode, normalised like the
        stream's training images."""
        return stream.embed(model, self.images, batch, head="forward").argmax(1).cpu().numpy()

    def __call__(self, model, stream: ImageStream, batch: int = 1024) -> dict:
        return {self.name: float(np.mean(self.predict(model, stream, batch) == self.labels))}


class WeightedClassification(Task):
    """Cross-entropy on ``targets`` over the stream's rows, each weighted ω_i ζ_{y_i}.

    ``example_weights`` ω (N,) (DMT's confidence α or Iscen's ω; 1 for true labels) and
    ``class_weights`` ζ (C,) default to 1. The loss is (1/B) Σ ω ζ (-log p_y), as in the papers.
    """

    trains_every_head = False  # the classifier only

    def __init__(
        self,
        stream: ImageStream,
        targets,
        *,
        example_weights=None,
        class_weights=None,
        monitor: AccuracyMonitor | None = None,
    ):
        device = stream.device
        self.stream, self.monitor = stream, monitor
        self.targets = torch.as_tensor(np.asarray(targets, dtype=np.int64), device=device)
        self.weights = (
            None
            if example_weights is None
            else torch.as_tensor(np.asarray(example_weights, dtype=np.float32), device=device)
        )
        self.class_weights = (
            None
            if class_weights is None
            else torch.as_tensor(np.asarray(class_weights, dtype=np.float32), device=device)
        )

    @property
    def steps_per_epoch(self) -> int:
        return self.stream.steps_per_epoch

    def batches(self, epoch: int):
        return self.stream.batches(epoch)

    def loss(self, model, batch: Batch, step: int):
        idx = batch.index
        logits = model(self.stream.view(batch))
        w = None if self.weights is None else self.weights[idx]
        return weighted_cross_entropy(logits, self.targets[idx], w, self.class_weights), {}

    def evaluate(self, model, epoch):
        return {} if self.monitor is None else self.monitor(model, self.stream)
