"""Class votes of neighbours, summed in a fixed order.

``torch.scatter_add_`` over a 2-D index is nondeterministic on CUDA (atomic adds in any order;
torch has no deterministic kernel for it), so two runs, or a resumed run, could differ in the
last bit of a vote and then in a pseudo label. Here each neighbour column is added in turn: one
write per row per column, no collisions, the same sums on every device and every run.
"""

from __future__ import annotations

import torch


def class_votes(classes: torch.Tensor, weights: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(B, n_classes) float64: Σ_j weights[b, j] over the neighbours j of row b whose class
    ``classes[b, j]`` is c, added column by column."""
    b, k = classes.shape
    votes = torch.zeros((b, n_classes), dtype=torch.float64, device=weights.device)
    rows = torch.arange(b, device=weights.device)
    w = weights.double()
    for j in range(k):
        votes[rows, classes[:, j]] += w[:, j]
    return votes
