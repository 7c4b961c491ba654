"""Confidence, class balance and selection against their definitions (issue 2)."""

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.propagation import (
    class_balance_weights,
    entropy_weight,
    margin_confidence,
    select_confident,
    top_probability,
)


def test_margin_closed_form():
    z = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]])
    p = np.exp(z / 0.5) / np.exp(z / 0.5).sum(1, keepdims=True)  # DMT eq. (8)
    expected = np.sort(p, axis=1)[:, -1] - np.sort(p, axis=1)[:, -2]  # eq. (9)
    np.testing.assert_allclose(margin_confidence(z, 0.5), expected)
    assert margin_confidence(z)[1] == pytest.approx(0.0)  # a tie has no margin
    assert margin_confidence(np.ones((3, 1))).tolist() == [0, 0, 0]


def test_entropy_weight_definition():
    p = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    raw = entropy_weight(p, normalize_max=False)
    np.testing.assert_allclose(
        raw, [1.0, 0.0, 1 - np.log(2) / np.log(3)], atol=1e-12
    )  # Iscen eq. (11)
    w = entropy_weight(p[1:])
    assert w.max() == pytest.approx(1.0) and w.min() == pytest.approx(
        0.0, abs=1e-12
    )  # max-normalised
    np.testing.assert_allclose(entropy_weight(np.full((2, 4), 0.25)), 0.0, atol=1e-12)  # no 0/0


def test_top_probability():
    assert top_probability(np.array([[0.2, 0.8], [0.6, 0.4]])).tolist() == [0.8, 0.6]


def test_class_balance_mean_one_and_empty_class():
    labels = np.array([0, 0, 0, 1, 3, 3])  # class 2 receives nothing
    z = class_balance_weights(labels, 4)
    assert np.isfinite(z).all() and z.mean() == pytest.approx(1.0)
    present = np.array([1 / 3, 1.0, 1 / 2])
    np.testing.assert_allclose(z[[0, 1, 3]], present / present.mean())  # ζ_j ∝ 1/(|L_j|+|U_j|)
    assert z[2] == 1.0


def test_select_confident_global_and_per_class():
    conf = np.array([0.9, 0.1, 0.8, 0.3, 0.7, 0.2, 0.95, 0.5])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    top = select_confident(conf, 0.5)
    assert top.tolist() == sorted(np.argsort(-conf)[:4].tolist())
    per = select_confident(conf, 0.5, labels=labels, per_class=True)
    assert per.tolist() == [0, 2, 4, 6]  # the two best of each class
    cand = select_confident(conf, 0.5, candidates=np.array([1, 3, 5, 7]))
    assert cand.tolist() == [3, 7]
    assert select_confident(conf, 0.0).size == 0 and select_confident(conf, 1.0).size == 8
    with pytest.raises(InputError):
        select_confident(conf, 1.5)


def test_select_confident_tie_break():
    conf = np.array([1.0, 1.0, 1.0, 1.0, 0.4, 0.9])  # a saturated margin: four ties at 1
    second = np.array([0.2, 0.9, 0.5, 0.8, 1.0, 0.0])
    assert select_confident(conf, 0.5).tolist() == [0, 1, 2]  # ties by index
    # ties by the second key, which never overrides the confidence (4 and 5 stay out)
    assert select_confident(conf, 0.5, tie_break=second).tolist() == [1, 2, 3]
    brute = sorted(range(6), key=lambda i: (-conf[i], -second[i], i))[:3]
    assert select_confident(conf, 0.5, tie_break=second).tolist() == sorted(brute)
    labels = np.array([0, 0, 1, 1, 0, 1])
    per = select_confident(conf, 0.34, labels=labels, per_class=True, tie_break=second)
    assert per.tolist() == [1, 3]  # one of three per class: the best second key among ties
