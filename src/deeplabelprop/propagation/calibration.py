"""Calibration maps: from a method's class probabilities to the probability that a pseudo label
is right, fitted on the out-of-fold results of the labeled points alone (never on test truth).

* ``"temperature"``: one temperature T on the log class probabilities, q ∝ p^(1/T), fitted by
  the held-out negative log-likelihood (Guo et al. 2017). The class probabilities become q and
  the confidence max q.
* ``"platt"``: P(correct) = σ(a · logit(top p) + b · logit(top p - second p) + c), fitted by
  logistic regression on whether each hidden label came back right (Platt 1999, with the
  margin beside the top probability); the class probabilities stay as they were.
* ``"isotonic"``: P(correct) a non-decreasing step function of the top probability, fitted by
  isotonic regression (Zadrozny & Elkan 2002); needs many held-out labels.
* ``"auto"`` (default): the map each method declares (``Propagator.calibration``), chosen by
  measurement on Fashion-MNIST (benchmarks/RESULTS.md): temperature for diffusion and harmonic,
  whose class probabilities are smooth; for spectral, knn-vote and local, whose exact zeros for
  unvoted classes make the temperature's likelihood blow up, Platt, or isotonic once there are
  ``ISOTONIC_MIN_HELD_OUT`` held-out labels (at 1,000 labels it took the error of spectral from
  0.055 to 0.023 and of local from 0.077 to 0.028; at 100 it overfits local and knn-vote).

The papers' per-example weights (DMT's margin, Iscen's ω, LLP's p_y) are training weights, not
probabilities; they stay in ``weights``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax, logit

from .._validation import row_blocks
from ..errors import InputError

CALIBRATIONS = ("auto", "temperature", "platt", "isotonic", "none")
EPS = 1e-12
ISOTONIC_MIN_HELD_OUT = 500


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


def platt_features(probabilities: np.ndarray) -> np.ndarray:
    """(logit of the top probability, logit of its margin over the second) per row (n, 2)."""
    top2 = -np.partition(-probabilities, 1, axis=1)[:, :2] if probabilities.shape[1] > 1 else None
    top = probabilities.max(axis=1) if top2 is None else top2[:, 0]
    margin = top if top2 is None else top2[:, 0] - top2[:, 1]
    return np.c_[logit(np.clip(top, 1e-6, 1 - 1e-6)), logit(np.clip(margin, 1e-6, 1 - 1e-6))]


def fit_platt(probabilities: np.ndarray, truth: np.ndarray) -> list[float]:
    """[a, b, c] of P(correct) = σ(a · logit(top) + b · logit(margin) + c), by logistic
    regression (lightly regularised: with few held-out labels the fit stays tame)."""
    from sklearn.linear_model import LogisticRegression

    correct = probabilities.argmax(axis=1) == truth
    if correct.all() or not correct.any():  # one outcome only: nothing to fit beyond the rate
        rate = (correct.sum() + 0.5) / (correct.size + 1.0)
        return [0.0, 0.0, float(logit(rate))]
    model = LogisticRegression(C=10.0).fit(platt_features(probabilities), correct)
    return [*map(float, model.coef_[0]), float(model.intercept_[0])]


def fit_isotonic(probabilities: np.ndarray, truth: np.ndarray) -> tuple[list, list]:
    """The knots (x, y) of the isotonic regression of P(correct) on the top probability."""
    from sklearn.isotonic import IsotonicRegression

    correct = probabilities.argmax(axis=1) == truth
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(probabilities.max(axis=1), correct.astype(float))
    return model.X_thresholds_.tolist(), model.y_thresholds_.tolist()


APPLY_ROWS = 65_536  # rows per block of CalibrationMap.apply


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
        if self.method == "isotonic":
            return np.interp(probabilities.max(axis=1), self.params["x"], self.params["y"])
        a, b, c = self.params["coefficients"]
        f = platt_features(probabilities)
        return expit(a * f[:, 0] + b * f[:, 1] + c)

    def apply(self, probabilities: np.ndarray, unlabeled: np.ndarray) -> tuple:
        """(class probabilities, confidence) of every row: the map's on the ``unlabeled`` rows;
        a given label keeps its probabilities and has confidence 1. Row by row as
        :meth:`probabilities` and :meth:`confidence`, in blocks of ``APPLY_ROWS``: each
        temporary of a whole (n, c) float64 array would be 0.8 GB at 10 M × 10 classes, and
        the map makes five of them."""
        out = probabilities.copy()
        confidence = np.ones(len(probabilities))
        for rows in row_blocks(len(probabilities), APPLY_ROWS):
            p, unl = probabilities[rows], unlabeled[rows]
            confidence[rows] = np.where(unl, self.confidence(p), 1.0)
            if unl.any():
                out[rows][unl] = self.probabilities(p[unl])
        return out, confidence


def resolve(method: str, declared: str, n_held_out: int) -> str:
    """The map ``"auto"`` stands for: the method's ``declared`` one, with Platt turned
    isotonic once there are ``ISOTONIC_MIN_HELD_OUT`` held-out labels."""
    if method != "auto":
        return method
    if declared == "platt" and n_held_out >= ISOTONIC_MIN_HELD_OUT:
        return "isotonic"
    return declared


def fit_map(method: str, probabilities: np.ndarray, truth: np.ndarray) -> CalibrationMap:
    """The ``"temperature"``, ``"platt"`` or ``"isotonic"`` map fitted on held-out
    (probabilities, truth)."""
    stats = {
        "held_out": int(truth.size),
        "held_out_accuracy": float(np.mean(probabilities.argmax(1) == truth)),
    }
    if method == "temperature":
        return CalibrationMap(
            method, {**stats, "temperature": fit_temperature(probabilities, truth)}
        )
    if method == "platt":
        return CalibrationMap(method, {**stats, "coefficients": fit_platt(probabilities, truth)})
    if method == "isotonic":
        x, y = fit_isotonic(probabilities, truth)
        return CalibrationMap(method, {**stats, "x": x, "y": y})
    raise InputError(
        f"calibration={method!r} is not valid; choose one of {', '.join(CALIBRATIONS)}"
    )
