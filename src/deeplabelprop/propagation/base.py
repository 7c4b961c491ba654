"""What every propagator does first: check and convert its inputs; time its stages."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .._validation import check_features, check_labels

logger = logging.getLogger("deeplabelprop.progress")


def prepare_inputs(features, labels, n_classes: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated float32 features (n, d), int labels (n,) with -1 unlabeled, and the class count."""
    x = check_features(features)
    y, c = check_labels(labels, x.shape[0], n_classes)
    return x, y, c


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
    """Record the wall time of a block under ``timings[name]`` and log its start and end."""
    logger.info("%s ...", name)
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        timings[name] = timings.get(name, 0.0) + elapsed
        logger.info("%s done in %.2f s", name, elapsed)
