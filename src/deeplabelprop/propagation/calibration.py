"""Calibration maps: from a method's class probabilities to the probability that a pseudo label
is right, fitted on the out-of-fold results of the labeled points alone (never on test truth).

* ``"temperature"``: one temperature T on the log class probabilities, q ∝ p^(1/T), fitted by
  the held-out negative log-likelihood (Guo et al. 2017). The class probabilities become q and
  the confidence max q.
* ``"platt"``: P(correct) = σ(a · logit(max p) + b), fitted by logistic regression on whether
  each hidden label came back right (Platt 1999); the class probabilities stay as they were.
* ``"auto"`` (default): the map each method declares (``Propagator.calibration``), chosen by
  measurement on Fashion-MNIST (benchmarks/RESULTS.md): temperature for diffusion and harmonic,
  whose class probabilities are smooth; Platt for spectral, knn-vote and local, whose exact zeros
  for unvoted classes make the temperature's likelihood blow up.

The papers' per-example weights (DMT's margin, Iscen's ω, LLP's p_y) are training weights, not
probabilities; they stay in ``weights``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax, logit

from ..errors import InputError

CALIBRATIONS = ("auto", "temperature", "platt", "none")
EPS = 1e-12


def fit_temperature(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """T minimising -Σ log softmax(log p / T)[true class] (searched in log space, T in [1/50, 50])."""
    logp = np.log(np.clip(probabilities, EPS, 1.0))
    rows = np.arange(len(truth))

    def nll(log_t: float) -> float:
        return -log_softmax(logp / np.exp(log_t), axis=1)[rows, truth].mean()

    found = minimize_scalar(nll, bounds=(np.log(1 / 50), np.log(50)), method="bounded")
    return float(np.exp(found.x))


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """q ∝ p^(1/T), row by row."""
    logp = np.log(np.clip(probabilities, EPS, 1.0))
    return np.exp(log_softmax(logp / temperature, axis=1))


def fit_platt(probabilities: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(a, b) of P(correct) = σ(a · logit(max p) + b), by logistic regression (lightly
    regularised: with few held-out labels the fit stays near the identity a = 1, b = 0)."""
    from sklearn.linear_model import LogisticRegression

    top = np.clip(probabilities.max(axis=1), 1e-6, 1 - 1e-6)
    correct = probabilities.argmax(axis=1) == truth
    if correct.all() or not correct.any():  # one outcome only: nothing to fit beyond the rate
        rate = (correct.sum() + 0.5) / (correct.size + 1.0)
        return 0.0, float(logit(rate))
    model = LogisticRegression(C=10.0).fit(logit(top)[:, None], correct)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


@dataclass(frozen=True)
class CalibrationMap:
    """A fitted map from a method's class probabilities to P(pseudo label is right)."""

    method: str
    params: dict

    def probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        """The calibrated class probabilities (the temperature's q; Platt keeps p)."""
        if self.method == "temperature":
            return apply_temperature(probabilities, self.params["temperature"])
        return probabilities

    def confidence(self, probabilities: np.ndarray) -> np.ndarray:
        """P(the top class is right) of each row."""
        if self.method == "temperature":
            return self.probabilities(probabilities).max(axis=1)
        top = np.clip(probabilities.max(axis=1), 1e-6, 1 - 1e-6)
        return expit(self.params["a"] * logit(top) + self.params["b"])


def fit_map(method: str, probabilities: np.ndarray, truth: np.ndarray) -> CalibrationMap:
    """The ``"temperature"`` or ``"platt"`` map fitted on held-out (probabilities, truth)."""
    stats = {
        "held_out": int(truth.size),
        "held_out_accuracy": float(np.mean(probabilities.argmax(1) == truth)),
    }
    if method == "temperature":
        return CalibrationMap(
            method, {**stats, "temperature": fit_temperature(probabilities, truth)}
        )
    if method == "platt":
        a, b = fit_platt(probabilities, truth)
        return CalibrationMap(method, {**stats, "a": a, "b": b})
    raise InputError(
        f"calibration={method!r} is not valid; choose one of {', '.join(CALIBRATIONS)}"
    )
