"""knn-vote against a plain loop over DMT eq. (5) (issue 2)."""

import numpy as np

from deeplabelprop import propagate
from deeplabelprop.graph import l2_normalize
from deeplabelprop.propagation import knn_vote_log_scores


def test_knn_vote_equals_plain_loop(blobs):
    x, _, labels = blobs
    xn = l2_normalize(x).astype(np.float64)
    tau = 0.1
    expected = np.zeros((len(x), 3))
    for u in range(len(x)):
        for c in range(3):
            members = np.flatnonzero(labels == c)
            expected[u, c] = np.mean([np.exp(xn[i] @ xn[u] / tau) for i in members])  # eq. (5)
    got = knn_vote_log_scores(l2_normalize(x), labels, 3, tau=tau, block_elements=7)  # tiny blocks
    np.testing.assert_allclose(np.exp(got), expected, rtol=1e-5)
    r = propagate(x, labels, "knn-vote", calibration="none", tau=tau)
    np.testing.assert_allclose(
        r.probabilities[labels < 0],
        (expected / expected.sum(1, keepdims=True))[labels < 0],
        rtol=1e-5,
    )


def test_small_tau_does_not_overflow(blobs):
    x, truth, labels = blobs
    r = propagate(x, labels, "knn-vote", calibration="none", tau=0.001)
    assert np.isfinite(r.scores).all() and np.isfinite(r.probabilities).all()
    assert (r.labels == truth).mean() > 0.9
