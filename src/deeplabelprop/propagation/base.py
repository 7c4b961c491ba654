"""What every propagator shares: input checks, the label matrix, stage timings, and the split of
its work into ``prepare`` (features only) and ``solve`` (labels)."""

from __future__ import annotations

import contextvars
import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .._params import check_params
from .._validation import check_features, check_labels
from ..errors import DataWarning

logger = logging.getLogger("deeplabelprop.progress")


def prepare_inputs(features, labels, n_classes: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated float32 features (n, d), int labels (n,) with -1 unlabeled, and the class count.

    Degenerate but valid inputs warn (:class:`~deeplabelprop.errors.DataWarning`): one class
    labeled, or features that cannot tell the points apart."""
    x = check_features(features)
    y, c = check_labels(labels, x.shape[0], n_classes)
    warn_degenerate(x, y, c)
    return x, y, c


def warn_degenerate(x: np.ndarray, y: np.ndarray, n_classes: int) -> None:
    """One labeled class, or (nearly) identical features: say what it means and what to do."""
    if n_classes == 1 and (y < 0).any():
        warnings.warn(
            "only one class is labeled: every point gets that class with confidence 1; label "
            "examples of the other classes (or pass n_classes to name them)",
            DataWarning,
            stacklevel=4,
        )
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    spread = float(np.abs(unit - unit.mean(axis=0)).max()) if len(x) > 1 else 1.0
    if spread < 1e-4 and (y < 0).any():
        warnings.warn(
            f"all {len(x)} feature rows point the same way (largest difference {spread:.1e}): the "
            "graph cannot tell them apart and every pseudo label is a guess; check that the "
            "features were computed (not all zeros or copies of one row)",
            DataWarning,
            stacklevel=4,
        )


def label_matrix(labels: np.ndarray, n_classes: int, *, normalize: bool = True) -> np.ndarray:
    """Iscen eq. (5): Y (n × c) one-hot on labeled rows, zero elsewhere.

    With ``normalize`` each column is divided by its class's labeled count (Iscen's code), so
    classes with more labels do not dominate the diffusion.
    """
    y = np.zeros((labels.shape[0], n_classes))
    labeled = np.flatnonzero(labels >= 0)
    y[labeled, labels[labeled]] = 1.0
    if normalize:
        y /= np.maximum(y.sum(axis=0, keepdims=True), 1.0)
    return y


@contextmanager
def stage(timings: dict, name: str) -> Iterator[None]:
    """Record the wall time of a block under ``timings[name]`` and log its start and end
    (unless inside :func:`unlogged`)."""
    log = logger.info if not _UNLOGGED.get() else (lambda *args: None)
    log("%s ...", name)
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        timings[name] = timings.get(name, 0.0) + elapsed
        log("%s done in %.2f s", name, elapsed)


_UNLOGGED = contextvars.ContextVar("unlogged", default=False)


@contextmanager
def unlogged() -> Iterator[None]:
    """Stages inside are timed but not logged (the calibration's held-out solves: one line for
    all of them, not two per fold)."""
    token = _UNLOGGED.set(True)
    try:
        yield
    finally:
        _UNLOGGED.reset(token)


@dataclass
class Prepared:
    """What a propagator computes from the features alone (the kNN graph, a spectrum, unit
    rows): reused when only the labels change (calibration's held-out folds)."""

    n_samples: int
    data: dict
    timings: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)


def run_propagator(propagator, features, labels, n_classes: int | None):
    """``propagator.solve(propagator.prepare(x), y, c)`` after the checks every method makes."""
    check_params(propagator, propagator.constraints)
    x, y, c = prepare_inputs(features, labels, n_classes)
    return propagator.solve(propagator.prepare(x), y, c)
