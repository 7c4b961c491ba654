"""Pseudo-label metrics against brute force and scikit-learn (issue 2)."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from deeplabelprop import InputError
from deeplabelprop.evaluate import (
    accumulated_accuracy_curve,
    average_precision,
    pseudo_label_accuracy,
    pseudo_label_map,
)


def test_accuracy_on_mask():
    assert pseudo_label_accuracy(
        np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), np.array([False, True, True, True])
    ) == pytest.approx(2 / 3)
    assert pseudo_label_accuracy(np.array([0, 1]), np.array([0, 0]), np.array([0])) == 1.0
    with pytest.raises(InputError):
        pseudo_label_accuracy(np.array([0, 1]), np.array([0]))


def test_accumulated_curve_brute_force():
    rng = np.random.default_rng(0)
    conf = rng.random(50)
    correct = rng.random(50) < 0.7
    ratios, acc = accumulated_accuracy_curve(conf, correct)
    order = np.argsort(-conf)
    for i in range(50):
        assert acc[i] == pytest.approx(correct[order[: i + 1]].mean())
    assert ratios[-1] == 1.0 and acc[-1] == pytest.approx(correct.mean())


def test_average_precision_matches_sklearn():
    rng = np.random.default_rng(1)
    conf = rng.random(200)
    correct = rng.random(200) < conf  # informative confidence
    assert average_precision(conf, correct) == pytest.approx(average_precision_score(correct, conf))
    assert average_precision(conf, np.zeros(200, bool)) == 0.0


def test_map_is_mean_of_per_class_ap():
    conf = np.array([0.9, 0.8, 0.3, 0.7, 0.6, 0.2])
    pred = np.array([0, 0, 0, 1, 1, 1])
    truth = np.array([0, 1, 0, 1, 1, 0])
    ap0 = average_precision_score([1, 0, 1], [0.9, 0.8, 0.3])
    ap1 = average_precision_score([1, 1, 0], [0.7, 0.6, 0.2])
    assert pseudo_label_map(conf, pred, truth) == pytest.approx((ap0 + ap1) / 2)
    perfect = pseudo_label_map(conf, truth, truth)
    assert perfect == 1.0
