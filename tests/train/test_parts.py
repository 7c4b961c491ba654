"""Weighted cross-entropy, the learning-rate schedule and the EMA teacher against their formulas."""

import math

import pytest
import torch
from torch import nn

from deeplabelprop.train import EMATeacher, cosine_lr, weighted_cross_entropy


def test_weighted_cross_entropy_formula():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, 1.0, 3.0]], dtype=torch.float64)
    targets = torch.tensor([0, 2, 1])
    omega = torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64)  # DMT α_i / Iscen ω_i
    zeta = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)  # Iscen ζ_j
    logp = torch.log_softmax(logits, dim=1)
    expected = (
        -(omega * zeta[targets] * logp[torch.arange(3), targets]).sum() / 3
    )  # (1/B) Σ ω ζ (-log p)
    assert float(weighted_cross_entropy(logits, targets, omega, zeta)) == pytest.approx(
        float(expected), rel=1e-12
    )
    plain = torch.nn.functional.cross_entropy(logits, targets)
    assert float(weighted_cross_entropy(logits, targets)) == pytest.approx(float(plain), rel=1e-12)


def test_cosine_schedule_with_warmup():
    lrs = [cosine_lr(s, 100, 0.1, warmup_steps=10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.01) and lrs[9] == pytest.approx(0.1)
    assert lrs[10] == pytest.approx(0.1)
    assert lrs[55] == pytest.approx(0.05 * (1 + math.cos(math.pi * 45 / 90)))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert cosine_lr(100, 100, 0.1) == pytest.approx(0.0)


def test_ema_teacher_update():
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    teacher = EMATeacher(student, decay=0.9)
    before = [p.clone() for p in teacher.model.parameters()]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    student.train()(torch.randn(8, 3))  # changes the BatchNorm running statistics
    teacher.update(student)  # no step: the full decay
    for b, t, s in zip(before, teacher.model.parameters(), student.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * s)
    torch.testing.assert_close(
        teacher.model[1].running_mean, student[1].running_mean
    )  # buffers copied
    assert all(not p.requires_grad for p in teacher.model.parameters())
    teacher.update(student, step=0)  # first step: decay min(0.9, 1 - 1/1) = 0 -> a copy
    for t, s in zip(teacher.model.parameters(), student.parameters(), strict=True):
        torch.testing.assert_close(t, s)
