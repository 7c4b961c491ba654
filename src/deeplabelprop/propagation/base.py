"""What every propagator shares: the split of its work into ``prepare`` (features only: the
kNN graph, a spectrum, unit rows) and ``solve`` (labels), the held-out solves of its labels
(``solve_folds``), the label matrix, stage timings, and the CG warning.

A propagator is one file: a dataclass subclassing :class:`Propagator` (or :class:`GraphPropagator`
when it solves on the kNN graph) with ``name``, ``weight`` (its paper's training weight),
``calibration`` (its measured best map) and ``constraints``, decorated with
:func:`~deeplabelprop.propagation.registry.register_propagator`. It never checks its inputs:
:class:`~deeplabelprop.propagation.pipeline.Pipeline`, the one way in, checks and casts them once
and passes unit rows.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
import warnings
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning

from .. import distributed
from .._validation import check_n_neighbors, row_blocks
from ..atomic import save_npz
from ..errors import DataWarning, InputError
from ..graph import Graph, knn_graph
from ..graph.affinity import normalize_symmetric
from ..graph.sharded import sharded_knn_graph

logger = logging.getLogger("deeplabelprop.progress")

PREPARED_FORMAT = "deeplabelprop.prepared/1"


def warn_degenerate(unit: np.ndarray, y: np.ndarray, n_classes: int) -> None:
    """One labeled class, or (nearly) identical unit feature rows: say what it means and what
    to do."""
    if n_classes == 1 and (y < 0).any():
        warnings.warn(
            "only one class is labeled: every point gets that class with confidence 1; label "
            "examples of the other classes (or pass n_classes to name them)",
            DataWarning,
            stacklevel=4,
        )
    spread = 1.0
    if len(unit) > 1:  # in blocks of rows: at 10 M × 64 each whole-array temporary is 2.6 GB
        mean = unit.mean(axis=0)
        spread = max(float(np.abs(unit[rows] - mean).max()) for rows in row_blocks(len(unit)))
    if spread < 1e-4 and (y < 0).any():
        warnings.warn(
            f"all {len(unit)} feature rows point the same way (largest difference {spread:.1e}): the "
            "graph cannot tell them apart and every pseudo label is a guess; check that the "
            "features were computed (not all zeros or copies of one row)",
            DataWarning,
            stacklevel=4,
        )


def label_matrix(
    labels: np.ndarray, n_classes: int, *, normalize: bool = True, rows: slice | None = None
) -> np.ndarray:
    """Iscen eq. (5): Y (n × c) one-hot on labeled rows, zero elsewhere (only ``rows`` of it
    when given: one process's share).

    With ``normalize`` each column is divided by its class's labeled count (Iscen's code), so
    classes with more labels do not dominate the diffusion.
    """
    part = labels[rows] if rows is not None else labels
    y = np.zeros((part.shape[0], n_classes))
    labeled = np.flatnonzero(part >= 0)
    y[labeled, part[labeled]] = 1.0
    if normalize:
        counts = np.bincount(labels[labels >= 0], minlength=n_classes)
        y /= np.maximum(counts, 1.0)[None, :]
    return y


def hide(labels: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """``labels`` with the rows of ``fold`` marked unlabeled."""
    y = labels.copy()
    y[fold] = -1
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
    """Stages inside are timed but not logged (the held-out solves: one line for all of them,
    not two per fold)."""
    token = _UNLOGGED.set(True)
    try:
        yield
    finally:
        _UNLOGGED.reset(token)


@dataclass
class Prepared:
    """What a propagator computes from the features alone (the kNN graph, a spectrum, unit
    rows): reused when only the labels change (held-out folds, a new round of labels).

    ``fingerprint`` identifies the features and the settings that shaped it
    (:meth:`Pipeline.graph_fingerprint <deeplabelprop.propagation.pipeline.Pipeline>`); a kept
    graph is reused only under the same fingerprint.
    """

    n_samples: int
    data: dict
    timings: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    fingerprint: str = ""

    def save(self, path: str | Path) -> None:
        """Write to ``path`` (.npz) atomically: arrays, tensors and kNN graphs are kept (the
        normalised graph is recomputed on load, exactly)."""
        arrays: dict = {
            "format": np.array(PREPARED_FORMAT),
            "fingerprint": np.array(self.fingerprint),
            "n_samples": np.array(self.n_samples),
        }
        kinds = {}
        for key, value in self.data.items():
            if isinstance(value, Graph):
                w = sp.csr_matrix(value.weights)
                arrays |= {
                    f"data.{key}.data": w.data,
                    f"data.{key}.indices": w.indices.astype(np.int32),
                    f"data.{key}.indptr": w.indptr.astype(np.int64),
                }
                kinds[key] = ["graph", value.knn_recall]
            elif isinstance(value, torch.Tensor):
                arrays[f"data.{key}"] = value.detach().cpu().numpy()
                kinds[key] = ["tensor", str(value.device)]
            else:
                arrays[f"data.{key}"] = np.asarray(value)
                kinds[key] = ["array", None]
        info = {}
        for key, value in self.info.items():
            if isinstance(value, np.ndarray):
                arrays[f"info.{key}"] = value
            else:
                info[key] = value
        arrays["meta"] = np.array(
            json.dumps({"kinds": kinds, "info": info, "timings": self.timings}, default=float)
        )
        save_npz(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Prepared:
        """A graph written by :meth:`save`; an unreadable or foreign file is an InputError."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if "format" not in z.files or str(z["format"]) != PREPARED_FORMAT:
                    raise InputError(f"{path} is not a graph file of deeplabelprop")
                meta = json.loads(str(z["meta"]))
                data = {}
                for key, (kind, extra) in meta["kinds"].items():
                    if kind == "graph":
                        n = int(z["n_samples"])
                        w = sp.csr_matrix(
                            (
                                z[f"data.{key}.data"],
                                z[f"data.{key}.indices"],
                                z[f"data.{key}.indptr"],
                            ),
                            shape=(n, n),
                        )
                        normalized, degrees = normalize_symmetric(w)
                        data[key] = Graph(w, normalized, degrees, extra)
                    elif kind == "tensor":
                        data[key] = torch.from_numpy(z[f"data.{key}"]).to(extra)
                    else:
                        data[key] = z[f"data.{key}"]
                info = dict(meta["info"])
                info |= {k[5:]: z[k] for k in z.files if k.startswith("info.")}
                return cls(int(z["n_samples"]), data, meta["timings"], info, str(z["fingerprint"]))
        except InputError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"{path} cannot be read as a graph file ({exc}); delete it") from exc


class Propagator(ABC):
    """The base of every propagator: ``prepare`` (features) → ``solve`` (labels), and
    ``solve_folds``, the class probabilities of held-out labels.

    The default ``solve_folds`` solves once per fold; a method that can do better (only the
    held-out rows, or every fold in one batched solve) overrides it.
    """

    name: ClassVar[str]
    weight: ClassVar[str]
    calibration: ClassVar[str]
    constraints: ClassVar[dict]
    # parameters only ``solve`` reads: a kept graph serves every value of them
    solve_only: ClassVar[tuple] = ()
    # runs with its rows sharded over processes (prepare_shard, and solve on a ShardedGraph)
    shards: ClassVar[bool] = False

    @abstractmethod
    def prepare(self, x: np.ndarray) -> Prepared:
        """What the method computes from the checked unit rows ``x`` (n, d) alone."""

    @abstractmethod
    def solve(self, prepared: Prepared, y: np.ndarray, c: int):
        """The :class:`~deeplabelprop.propagation.result.PropagationResult` of labels ``y``
        (n,), -1 unlabeled, over ``c`` classes, on ``prepared``."""

    def solve_folds(
        self, prepared: Prepared, labels: np.ndarray, folds: list[np.ndarray], c: int, main
    ) -> list[np.ndarray]:
        """For each fold, the class probabilities (len(fold), c) of its rows when its labels
        are hidden. ``main`` is the solve with every label (its iteration count sets the
        precision the held-out solves match)."""
        return [self.solve(prepared, hide(labels, fold), c).probabilities[fold] for fold in folds]

    def warn_unconverged(self, converged: bool, residual: np.ndarray) -> None:
        """A CG solve that stopped at ``max_iter`` above ``tol``: say so and how to fix it."""
        if not converged:
            warnings.warn(
                f"{self.name} CG stopped at max_iter={self.max_iter} with relative residual "
                f"{residual.max():.2e} > tol={self.tol}; raise max_iter (or tol) to silence this",
                ConvergenceWarning,
                stacklevel=4,
            )


class GraphPropagator(Propagator):
    """A propagator that solves on the kNN graph of Iscen eq. (9) (or another kernel):
    ``prepare`` builds it from unit rows, once."""

    kernel: ClassVar[str] = "power"  # a method with a ``kernel`` field overrides this

    def prepare(self, x: np.ndarray) -> Prepared:
        """The kNN graph, from the features alone."""
        check_n_neighbors(self.n_neighbors, x.shape[0])
        timings: dict = {}
        with stage(timings, "graph"):
            graph = knn_graph(
                x,
                self.n_neighbors,
                kernel=self.kernel,
                gamma=self.gamma,
                tau=getattr(self, "tau", 0.1),
                sigma=getattr(self, "sigma", 0.1),
                backend=self.backend,
                exact=self.exact,
                device=self.device,
                random_state=self.random_state,
                unit=True,
            )
        return Prepared(x.shape[0], {"graph": graph}, timings, {"knn_recall": graph.knn_recall})

    def prepare_shard(self, x: np.ndarray, n_samples: int) -> Prepared:
        """The kNN graph of ``n_samples`` points of which this process holds the unit rows
        ``x`` (its :func:`~deeplabelprop.distributed.shard`), built with every other process."""
        check_n_neighbors(self.n_neighbors, n_samples)
        timings: dict = {}
        with stage(timings, "graph"):
            graph = sharded_knn_graph(
                x,
                n_samples,
                self.n_neighbors,
                kernel=self.kernel,
                gamma=self.gamma,
                tau=getattr(self, "tau", 0.1),
                sigma=getattr(self, "sigma", 0.1),
                exact=self.exact,
                random_state=self.random_state,
            )
        info = {"knn_recall": graph.knn_recall, "processes": distributed.world_size()}
        return Prepared(n_samples, {"graph": graph}, timings, info)
