"""The rows of DMT's Table 7, each a pure function of an episode's features: the queries'
predicted episode labels (0..n_way-1).

* ``nearest-neighbour``: the class of the most cosine-similar shot (Vinyals et al.'s NN
  baseline);
* ``prototypes``: the nearest class mean of the shots, squared Euclidean (Snell et al. 2017);
* ``soft-kmeans``: the prototypes refined once with the unlabeled pool, each pool point
  assigned softly by exp(−‖h − p_c‖² / τ) (Ren et al. 2018, eq. 3), queries to the nearest
  refined prototype;
* ``propagation:<method>``: any registered propagator over shots + pool + queries
  (transductive), the shots as labels; DMT propagates with ``spectral``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np

from ..errors import DataWarning
from ..propagation import Pipeline
from .episodes import Episode


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """‖a_i − b_j‖² for every pair of rows."""
    return (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]


def class_means(x: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.stack([x[labels == c].mean(axis=0) for c in range(n_classes)])


def nearest_neighbour(features: np.ndarray, ep: Episode) -> np.ndarray:
    shots, queries = features[ep.shots], features[ep.queries]
    sim = _unit(queries) @ _unit(shots).T
    return ep.shot_labels[np.argmax(sim, axis=1)]


def prototypes(features: np.ndarray, ep: Episode) -> np.ndarray:
    protos = class_means(features[ep.shots], ep.shot_labels, ep.classes.size)
    return np.argmin(squared_distances(features[ep.queries], protos), axis=1)


def soft_kmeans(features: np.ndarray, ep: Episode, tau: float = 0.1) -> np.ndarray:
    """Ren et al. (2018) eq. (3): p̃_c = (Σ_shots h + Σ_pool z_jc h_j) / (K + Σ_pool z_jc)."""
    shots, pool = features[ep.shots], features[ep.pool]
    n_way = ep.classes.size
    protos = class_means(shots, ep.shot_labels, n_way)
    logits = -squared_distances(pool, protos) / tau
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    z /= z.sum(axis=1, keepdims=True)
    one_hot = np.eye(n_way)[ep.shot_labels]
    refined = (one_hot.T @ shots + z.T @ pool) / (one_hot.sum(0) + z.sum(0))[:, None]
    return np.argmin(squared_distances(features[ep.queries], refined), axis=1)


def propagation(method: str, **params) -> Callable[[np.ndarray, Episode], np.ndarray]:
    """The row ``propagation:<method>``: labels propagated from the shots through the pool and
    the queries (the method's sizes fitted to the episode), uncalibrated (only the argmax is
    read)."""

    pipeline = Pipeline(method, params=params, calibration="none")
    pipeline.validate(prefix="")

    def predict(features: np.ndarray, ep: Episode) -> np.ndarray:
        rows = np.concatenate([ep.shots, ep.pool, ep.queries])
        y = np.full(rows.size, -1, dtype=np.int64)
        y[: ep.shots.size] = ep.shot_labels
        result = pipeline.run(features[rows], y, ep.classes.size, calibrate=False)
        return result.labels[rows.size - ep.queries.size :]

    return predict


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def rows(methods: dict[str, dict], tau: float = 0.1) -> dict[str, Callable]:
    """Every row of the table: the baselines, then ``propagation:<method>`` for each of
    ``methods`` (name → parameters)."""
    out: dict[str, Callable] = {
        "nearest-neighbour": nearest_neighbour,
        "prototypes": prototypes,
        "soft-kmeans": lambda f, ep: soft_kmeans(f, ep, tau),
    }
    for name, params in methods.items():
        out[f"propagation:{name}"] = propagation(name, **params)
    return out


def evaluate(features: np.ndarray, episodes: list[Episode], table: dict[str, Callable]):
    """(accuracy (rows, episodes), seconds per episode (rows,), warnings (rows,)) of each row on
    every episode. A row's :class:`~deeplabelprop.errors.DataWarning` s (a class the shots'
    labels do not reach in an episode, say) are counted per row, not shown once per episode."""
    acc = np.zeros((len(table), len(episodes)))
    seconds = np.zeros(len(table))
    warned = np.zeros(len(table), dtype=np.int64)
    for r, fn in enumerate(table.values()):
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DataWarning)
            for e, ep in enumerate(episodes):
                before = len(caught)
                acc[r, e] = np.mean(fn(features, ep) == ep.query_labels)
                warned[r] += any(issubclass(w.category, DataWarning) for w in caught[before:])
        for w in caught:  # anything else is shown as usual
            if not issubclass(w.category, DataWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        seconds[r] = (time.perf_counter() - start) / max(1, len(episodes))
    return acc, seconds, warned
