"""The frozen-backbone classifier (issue 21) is the exact minimiser of its objective."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from deeplabelprop.train.linear_head import fit_linear_head


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    n, d, c = 300, 6, 3
    t = rng.integers(0, c, n)
    x = rng.normal(size=(n, d))
    x[np.arange(n), t] += 1.5
    return x, t, rng.uniform(0.1, 1.0, n)


def test_equals_scikit_learns_weighted_logistic_regression(problem):
    x, t, w = problem
    l2 = 1e-2
    W, b, info = fit_linear_head(x, t, w, 3, l2=l2)
    # scikit-learn minimises ½‖W‖² + C Σ ω CE: ours times 1 / (λ Σω)
    sk = LogisticRegression(C=1 / (l2 * w.sum()), tol=1e-12, max_iter=10_000)
    sk.fit(x, t, sample_weight=w)
    np.testing.assert_allclose(W, sk.coef_, atol=1e-4)
    np.testing.assert_allclose(b - b.mean(), sk.intercept_ - sk.intercept_.mean(), atol=1e-4)
    assert info["iterations"] > 0


def test_weights_act_as_eq_10_says(problem):
    x, t, w = problem
    W, b, _ = fit_linear_head(x, t, w, 3)
    # only the weights' ratios matter (the loss is normalised by Σω)
    W2, b2, _ = fit_linear_head(x, t, 7 * w, 3)
    np.testing.assert_allclose(W2, W, atol=1e-5)
    # a row of weight 0 is a row that is not there
    w0 = w.copy()
    w0[:100] = 0
    Wz, bz, _ = fit_linear_head(x, t, w0, 3)
    Wr, br, _ = fit_linear_head(x[100:], t[100:], w[100:], 3)
    np.testing.assert_allclose(Wz, Wr, atol=1e-5)
    np.testing.assert_allclose(bz, br, atol=1e-5)
    with pytest.raises(ValueError, match="positive sum"):
        fit_linear_head(x, t, np.zeros_like(w), 3)
