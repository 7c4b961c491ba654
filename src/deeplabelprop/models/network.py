"""A backbone with its two heads: an ℓ2-normalised embedding and a linear classifier."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Network(nn.Module):
    """``features(x)`` the backbone output (B, F); ``embed(x)`` the unit embedding (B, D);
    ``forward(x)`` class logits (B, n_classes), or the embedding when there is no classifier."""

    def __init__(self, backbone: nn.Module, embedding_dim: int = 128, n_classes: int | None = None):
        super().__init__()
        self.backbone = backbone
        self.embedding = nn.Linear(backbone.out_dim, embedding_dim)
        self.classifier = nn.Linear(backbone.out_dim, n_classes) if n_classes else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.embedding(self.backbone(x)), dim=1)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(unit embedding, logits or None) from one backbone pass."""
        f = self.backbone(x)
        logits = self.classifier(f) if self.classifier is not None else None
        return F.normalize(self.embedding(f), dim=1), logits

    def forward(self, x: torch.Tensor, head: str = "output"):
        """Class logits (or the embedding when there is no classifier); ``head`` selects another
        output ("embed", "features", "heads"), so that every use of the network goes through
        ``forward`` (DistributedDataParallel synchronises gradients only there)."""
        if head == "embed":
            return self.embed(x)
        if head == "features":
            return self.features(x)
        if head == "heads":
            return self.heads(x)
        emb, logits = self.heads(x)
        return logits if logits is not None else emb

    def set_classifier(self, n_classes: int) -> None:
        """Attach a fresh linear classifier (e.g. to finetune a pretrained metric)."""
        self.classifier = nn.Linear(self.backbone.out_dim, n_classes).to(
            self.embedding.weight.device
        )
