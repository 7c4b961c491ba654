"""A linear classifier on frozen features, fitted exactly: the cheap finetune of a pretrained
backbone (DMT's stage 3 with the backbone held fixed).

The objective is DMT eq. (10) with an L2 penalty,

    (1 / Σ ω) Σ_i ω_i (−log softmax(W f_i + b)_{t_i}) + (λ / 2) ‖W‖²,

strictly convex in (W, b) for λ > 0, so L-BFGS reaches its one minimum whatever the start:
no epochs, learning rate or seed to tune, and the same answer on every machine.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def fit_linear_head(
    features: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    n_classes: int,
    *,
    l2: float = 1e-4,
    max_iter: int = 500,
    tolerance: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(W (n_classes, d), b (n_classes,), info) minimising the weighted, penalised cross-entropy
    of the module docstring over the rows of ``features`` (float64 throughout)."""
    x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    t = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
    w = torch.as_tensor(np.asarray(weights), dtype=torch.float64)
    if x.ndim != 2 or t.shape != (x.shape[0],) or w.shape != (x.shape[0],):
        raise ValueError("features (n, d), targets (n,) and weights (n,) must agree")
    if (w < 0).any() or float(w.sum()) <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    W = torch.zeros(n_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    total = w.sum()
    opt = torch.optim.LBFGS(
        [W, b],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tolerance,
        tolerance_change=tolerance * 1e-3,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def objective() -> torch.Tensor:
        opt.zero_grad()
        ce = F.cross_entropy(x @ W.T + b, t, reduction="none")
        loss = (w * ce).sum() / total + 0.5 * l2 * (W * W).sum()
        loss.backward()
        return loss

    opt.step(objective)
    with torch.no_grad():
        ce = F.cross_entropy(x @ W.T + b, t, reduction="none")
        loss = (w * ce).sum() / total + 0.5 * l2 * (W * W).sum()
    info = {"loss": float(loss), "iterations": int(opt.state[W]["n_iter"])}
    return W.detach().numpy(), b.detach().numpy(), info
