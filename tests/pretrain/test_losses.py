"""Instance discrimination, NCE, NCA and the kNN monitor against direct formulas (issue 4)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deeplabelprop.pretrain import (
    estimate_log_partition,
    instance_nce_loss,
    instance_softmax_loss,
    nca_loss,
    weighted_knn_predict,
)
from deeplabelprop.pretrain.losses import two_view_loss
from deeplabelprop.train import MemoryBank


def unit(*shape, seed=0):
    return F.normalize(
        torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64),
        dim=-1,
    )


def test_softmax_loss_direct_formula():
    emb, bank = unit(4, 8), unit(20, 8, seed=1)
    idx = torch.tensor([3, 7, 0, 19])
    expected = np.mean(
        [
            -math.log(
                math.exp(float(emb[b] @ bank[idx[b]]) / 0.1)
                / sum(math.exp(float(emb[b] @ bank[j]) / 0.1) for j in range(20))
            )
            for b in range(4)
        ]
    )
    assert float(instance_softmax_loss(emb, bank, idx, 0.1)) == pytest.approx(expected, rel=1e-10)


def test_nce_loss_direct_formula():
    emb, bank = unit(3, 8), unit(50, 8, seed=1)
    idx = torch.tensor([1, 2, 3])
    m, tau, log_z = 5, 0.1, 4.0
    got = instance_nce_loss(emb, bank, idx, tau, m, log_z, torch.Generator().manual_seed(9))
    noise = torch.randint(0, 50, (m,), generator=torch.Generator().manual_seed(9))  # shared
    total = 0.0

    def p(b, j):  # P(j|v_b) with the constant partition function
        return math.exp(float(emb[b] @ bank[j]) / tau) / math.exp(log_z)

    for b in range(3):
        pn = 1 / 50
        total += -math.log(p(b, idx[b]) / (p(b, idx[b]) + m * pn))
        total += -sum(math.log(1 - p(b, j) / (p(b, j) + m * pn)) for j in noise.tolist())
    assert float(got) == pytest.approx(total / 3, rel=1e-9)


def test_log_partition_estimate():
    emb, bank = unit(4, 8), unit(30, 8, seed=1)
    expected = math.log(30 * float(torch.exp(emb @ bank.T / 0.07).mean()))
    assert estimate_log_partition(emb, bank, 0.07) == pytest.approx(expected, rel=1e-10)


def test_nca_loop():
    emb, bank = unit(3, 6), unit(12, 6, seed=2)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1, 2, 0, 1, 3])
    idx = torch.tensor([0, 4, 11])  # example 11 is alone in class 3: it contributes nothing
    tau = 0.2
    terms = []
    for b in range(2):
        i = int(idx[b])
        s = {j: math.exp(float(emb[b] @ bank[j]) / tau) for j in range(12) if j != i}
        terms.append(
            -math.log(sum(v for j, v in s.items() if labels[j] == labels[i]) / sum(s.values()))
        )
    assert float(nca_loss(emb, bank, idx, labels, tau)) == pytest.approx(np.mean(terms), rel=1e-10)


def test_memory_bank_update_math():
    bank = MemoryBank(5, 4, momentum=0.5, seed=0)
    before = bank.vectors.clone()
    f = F.normalize(torch.randn(2, 4), dim=1)
    bank.update(torch.tensor([1, 3]), f)
    for row, k in ((1, 0), (3, 1)):
        mixed = 0.5 * before[row] + 0.5 * f[k]
        torch.testing.assert_close(bank.vectors[row], mixed / mixed.norm())
    torch.testing.assert_close(bank.vectors[[0, 2, 4]], before[[0, 2, 4]])


def test_weighted_knn_loop():
    bank, query = unit(40, 5, seed=3), unit(6, 5, seed=4)
    labels = torch.arange(40) % 3
    got = weighted_knn_predict(query, bank, labels, 3, k=7, tau=0.1, chunk=4)
    for q in range(6):
        s = bank @ query[q]
        top = torch.argsort(s, descending=True)[:7]
        votes = np.zeros(3)
        for j in top.tolist():
            votes[labels[j]] += math.exp(float(s[j]) / 0.1)
        assert int(got[q]) == int(np.argmax(votes))


def test_two_view_loss_direct_formula():
    z1, z2 = unit(3, 6, seed=5), unit(3, 6, seed=6)
    z = torch.cat([z1, z2])
    tau = 0.3
    total = 0.0
    for k in range(6):
        other = (k + 3) % 6
        denom = sum(math.exp(float(z[k] @ z[j]) / tau) for j in range(6) if j != k)
        total += -math.log(math.exp(float(z[k] @ z[other]) / tau) / denom)
    assert float(two_view_loss(z1, z2, tau)) == pytest.approx(total / 6, rel=1e-10)
