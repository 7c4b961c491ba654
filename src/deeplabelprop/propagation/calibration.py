"""Calibrated confidence: for every pseudo label, the probability that it is right, fitted on
the labeled points alone (never on test truth).

The labels are dealt into 10 folds (each class from a staggered start, so a fold hides a few
labels and never a class's last one). Each fold is hidden in turn and the labels propagated again
on the same graph (``solve`` on the propagator's ``prepare``: the graph and spectrum do not
depend on the labels), so every hidden label comes back with a predicted distribution. A
calibration map is fitted on how they come back:

* ``"temperature"``: one temperature T on the log class probabilities, q ∝ p^(1/T), fitted by
  the held-out negative log-likelihood (Guo et al. 2017). The class probabilities become q and
  the confidence max q.
* ``"platt"``: P(correct) = σ(a · logit(max p) + b), fitted by logistic regression on whether
  each hidden label came back right (Platt 1999); the class probabilities stay as they were.
* ``"auto"`` (default): the map each method declares (``Propagator.calibration``), chosen by
  measurement on Fashion-MNIST (benchmarks/RESULTS.md): temperature for diffusion and harmonic,
  whose class probabilities are smooth; Platt for spectral, knn-vote and local, whose exact zeros
  for unvoted classes make the temperature's likelihood blow up.

Hiding fewer labels per fold matters: a fold that hides a fifth of the labels is a harder
problem than the real one, and the map fitted on it is biased (10 folds instead of 5 took the
error of spectral at 100 labels from 0.054 to 0.035; 20 folds gained nothing more and cost twice
the solves).

The papers' per-example weights (DMT's margin, Iscen's ω, LLP's p_y) are training weights, not
probabilities; they stay in ``weights``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax, logit
from sklearn.exceptions import ConvergenceWarning

from ..errors import DataWarning, InputError
from .base import Prepared, unlogged
from .result import PropagationResult

logger = logging.getLogger(__name__)

CALIBRATIONS = ("auto", "temperature", "platt", "none")
N_FOLDS = 10
EPS = 1e-12


def label_folds(labels: np.ndarray, n_folds: int = N_FOLDS, seed: int = 0) -> list[np.ndarray]:
    """Folds of the labeled indices: each class's labels are shuffled and dealt to consecutive
    folds from a random start, so a class's labels spread over different folds and no fold hides
    all of a class (a class with one label is never hidden). Empty folds are dropped."""
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(n_folds)]
    for c in np.unique(y[y >= 0]):
        members = rng.permutation(np.flatnonzero(y == c))
        if members.size < 2:
            continue
        start = int(rng.integers(n_folds))
        for j, i in enumerate(members):
            folds[(start + j) % n_folds].append(int(i))
    return [np.sort(np.array(f, dtype=np.int64)) for f in folds if f]


def held_out(propagator, prepared: Prepared, labels: np.ndarray, n_classes: int, folds):
    """(probabilities (m, c), true classes (m,)) of every hidden label, each fold hidden in turn
    (in one batched solve when the method has ``solve_folds``)."""
    label_sets = []
    for fold in folds:
        y = labels.copy()
        y[fold] = -1
        label_sets.append(y)
    with warnings.catch_warnings(), unlogged():  # the same solver as the real run: it warns there
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DataWarning)
        batched = getattr(propagator, "solve_folds", None)
        if batched is not None:
            full = batched(prepared, label_sets, n_classes)
        else:
            full = [propagator.solve(prepared, y, n_classes).probabilities for y in label_sets]
    probabilities = np.concatenate([p[fold] for p, fold in zip(full, folds, strict=True)])
    return probabilities, np.concatenate([labels[fold] for fold in folds])


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

    def apply(self, result: PropagationResult) -> PropagationResult:
        """``result`` with the calibrated confidence (and, for temperature, class probabilities)."""
        unl = ~result.labeled
        probabilities = result.probabilities.copy()
        if self.method == "temperature":
            probabilities[unl] = apply_temperature(
                result.probabilities[unl], self.params["temperature"]
            )
            confidence = np.where(unl, probabilities.max(axis=1), 1.0)
        else:
            top = np.clip(result.probabilities.max(axis=1), 1e-6, 1 - 1e-6)
            confidence = np.where(unl, expit(self.params["a"] * logit(top) + self.params["b"]), 1.0)
        info = {**result.info, "calibration": {"method": self.method, **self.params}}
        return replace(result, probabilities=probabilities, confidence=confidence, info=info)


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


def calibrate(
    propagator,
    prepared: Prepared,
    labels: np.ndarray,
    n_classes: int,
    result: PropagationResult,
    *,
    method: str = "auto",
    n_folds: int = N_FOLDS,
    seed: int = 0,
) -> PropagationResult:
    """``result`` with a calibrated ``confidence`` (and, for ``"temperature"``, calibrated class
    probabilities); ``info["calibration"]`` says how. With no label that can be held out (one
    label per class) the confidence cannot be calibrated: a warning says so and it stays the
    method's own."""
    if method == "auto":
        method = propagator.calibration
    if method == "none":
        return result
    folds = label_folds(labels, n_folds, seed)
    if not folds:
        warnings.warn(
            "every class has a single label: no label can be held out to calibrate the confidence, "
            "which stays the method's own (not a probability); label two or more per class",
            UserWarning,
            stacklevel=3,
        )
        return replace(
            result, info={**result.info, "calibration": {"method": "none", "held_out": 0}}
        )
    p_held, truth = held_out(propagator, prepared, labels, n_classes, folds)
    fitted = fit_map(method, p_held, truth)
    logger.info(
        "confidence calibrated (%s) on %d held-out labels in %d folds",
        method,
        truth.size,
        len(folds),
    )
    return fitted.apply(result)


def propagate_calibrated(
    propagator,
    features,
    labels,
    n_classes: int | None = None,
    *,
    method: str = "auto",
    n_folds: int = N_FOLDS,
    seed: int = 0,
) -> PropagationResult:
    """``propagator.propagate`` with the confidence calibrated by ``method`` (see
    :func:`calibrate`); the graph or spectrum is computed once."""
    from .._params import check_params
    from .base import prepare_inputs

    check_params(propagator, propagator.constraints)
    x, y, c = prepare_inputs(features, labels, n_classes)
    prepared = propagator.prepare(x)
    result = propagator.solve(prepared, y, c)
    return calibrate(propagator, prepared, y, c, result, method=method, n_folds=n_folds, seed=seed)
