"""LLP density-weighted votes against a direct loop over eq. (1), (7), (8) (issue 2)."""

import numpy as np
import pytest
import torch

from deeplabelprop import propagate
from deeplabelprop.graph import l2_normalize
from deeplabelprop.propagation import labeled_log_density, local_votes


def loop_reference(x, labels, n_classes, tau, k, t, density=True):
    v = l2_normalize(x).astype(np.float64)
    n = len(v)
    s = v @ v.T / tau
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)  # P(j|v_i), eq. (1), row i
    lab = np.flatnonzero(labels >= 0)
    rho = {}
    for i in lab:
        others = [j for j in np.argsort(-s[i], kind="stable") if j != i][:t]
        rho[i] = p[i, others].sum()  # eq. (7)
    out = np.zeros((n, n_classes))
    for u in range(n):
        weight = {i: p[u, i] / (rho[i] if density else 1.0) for i in lab}  # P_L(i|v)
        voters = sorted(lab, key=lambda i: -weight[i])[:k]
        for i in voters:
            out[u, labels[i]] += weight[i]  # eq. (8)
        out[u] /= out[u].sum()  # eq. (6)
    return np.log([rho[i] for i in lab]), out


@pytest.mark.parametrize("density", [True, False])
def test_density_and_votes_match_loop(blobs, density):
    x, _, labels = blobs
    labels = labels.copy()
    labels[np.random.default_rng(0).choice(300, 20, replace=False)] = np.arange(20) % 3
    log_rho_ref, p_ref = loop_reference(x, labels, 3, tau=0.2, k=4, t=6, density=density)
    bank = torch.from_numpy(l2_normalize(x))
    lab = torch.from_numpy(np.flatnonzero(labels >= 0))
    log_rho = labeled_log_density(bank, lab, tau=0.2, n_density=6, block_elements=50)  # chunked
    np.testing.assert_allclose(log_rho.numpy(), log_rho_ref, rtol=1e-4, atol=1e-4)
    p = local_votes(
        bank,
        lab,
        torch.from_numpy(labels)[lab],
        log_rho,
        3,
        tau=0.2,
        n_voters=4,
        density_weighting=density,
        block_elements=30,
    )
    np.testing.assert_allclose(p.numpy(), p_ref, atol=1e-5)


def test_chunked_equals_unchunked(blobs):
    x, _, labels = blobs
    bank = torch.from_numpy(l2_normalize(x))
    lab = torch.from_numpy(np.flatnonzero(labels >= 0))
    classes = torch.from_numpy(labels)[lab]
    small = labeled_log_density(bank, lab, n_density=5, block_elements=13)
    whole = labeled_log_density(bank, lab, n_density=5, block_elements=1 << 30)
    np.testing.assert_allclose(small.numpy(), whole.numpy(), rtol=1e-6)
    a = local_votes(bank, lab, classes, whole, 3, n_voters=3, block_elements=17)
    b = local_votes(bank, lab, classes, whole, 3, n_voters=3, block_elements=1 << 30)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


def test_local_propagator_confidence_is_top_probability(blobs):
    x, truth, labels = blobs
    r = propagate(x, labels, "local", calibration="none", n_voters=3, n_density=5)
    u = labels < 0
    np.testing.assert_allclose(r.confidence[u], r.probabilities[u].max(axis=1))
    assert (r.labels == truth).mean() > 0.95
