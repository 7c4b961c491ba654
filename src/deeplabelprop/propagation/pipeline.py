"""``Pipeline``: the one way into propagation.

``deeplabelprop.propagate``, ``LabelPropagator.fit``, the ``propagate`` command, the recipes'
``[propagate]`` section and ``fewshot`` all run here::

    check and cast X once (float32, unit rows) → build the propagator once (its size parameters
    fitted to n) → prepare (the kNN graph: features only, kept under a fingerprint) → solve →
    training weights → out-of-fold solves on the same graph → calibrate → estimated accuracy

    [propagate]
    method = "spectral"        # any registered method (deeplabelprop methods)
    weight = "own"             # the training weight: own (the method's paper) | margin | entropy
                               #   | top-probability | uniform | calibrated
    calibration = "auto"       # how `confidence` becomes P(pseudo label is right): auto (the
                               #   method's measured best) | temperature | platt | none
    n_neighbors = 20           # ... and any parameter of the method, passed straight through

A parameter the method does not take is an error, and each value is typed and range-checked by
the method's own declaration before any work starts.

``confidence`` is always the best estimate of P(pseudo label is right): calibrated where labels
can be held out, else the method's top class probability with ``calibrated = False`` (and a
warning when calibration was asked for but no label could be held out). The papers' weights
live only in ``weights``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import typing
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import distributed
from .._params import Options
from .._validation import check_features, check_labels
from ..config import coerce
from ..errors import DataWarning, InputError
from ..fingerprint import fingerprint
from ..graph import l2_normalize
from .accuracy import audit_check, disagreement, estimate_accuracy
from .base import Prepared, warn_degenerate
from .calibration import CALIBRATIONS, fit_map, resolve
from .out_of_fold import N_FOLDS, label_folds, out_of_fold
from .parameters import SEED_PARAMETER
from .registry import check_method_params, get_propagator_class, make_propagator
from .result import PropagationResult
from .weights import check_weight_name, example_weights

logger = logging.getLogger(__name__)

CALIBRATED = "calibrated"  # the training weight that is the calibrated confidence itself
# settings that change where the work runs, not what it computes (not in a graph's fingerprint)
RUNTIME_PARAMETERS = ("device",)

NOT_CALIBRATED_ONE_LABEL = (
    "every class has a single label: no label can be held out to calibrate the confidence, "
    "which is the method's top class probability (calibrated: false); label two or more per class"
)


def check_inputs(
    features, labels, n_classes: int | None, *, shard: bool = False
) -> tuple[np.ndarray, np.ndarray, int]:
    """(unit float32 rows (n, d), int labels (n,) with -1 unlabeled, the class count): the one
    check and cast of the inputs. With ``shard``, only this process's rows of the features
    (:func:`~deeplabelprop.distributed.shard`; a memory-mapped array is read there only).
    Degenerate but valid inputs warn (:class:`~deeplabelprop.errors.DataWarning`)."""
    if shard:  # a bad row stops every process, not only the one holding it
        n = check_shape(features)
        rows = distributed.shard(n)
        x = distributed.everywhere(
            lambda: l2_normalize(check_features(features[rows], first_row=rows.start))
        )
    else:
        x = l2_normalize(check_features(features))
        n = x.shape[0]
    y, c = check_labels(labels, n, n_classes)
    warn_degenerate(x, y, c)
    return x, y, c


def check_audit(audit, y: np.ndarray) -> np.ndarray | None:
    """The audit rows as a boolean mask over the rows (None: none known); each must be labeled."""
    if audit is None:
        return None
    audit = np.asarray(audit)
    if audit.dtype == bool:
        if audit.shape != y.shape:
            raise InputError(f"audit has {audit.size} entries for {y.size} rows; give one per row")
        mask = audit
    else:
        rows = audit.astype(np.int64, copy=False).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= y.size):
            raise InputError(
                f"audit rows must be row numbers in [0, {y.size}); got {rows.min()}..{rows.max()}"
            )
        mask = np.zeros(y.size, dtype=bool)
        mask[rows] = True
    unlabeled = np.flatnonzero(mask & (y < 0))
    if unlabeled.size:
        raise InputError(
            f"audit row {unlabeled[0]} has no label: an audit row is a labeled image drawn at "
            "random; leave unlabeled ones out"
        )
    return mask if mask.any() else None


def check_shape(features) -> int:
    """The row count of an (n, d) array-like, without reading its values."""
    shape = getattr(features, "shape", None)
    if shape is None or len(shape) != 2:
        return check_features(features).shape[0]  # its error says what is wrong
    return int(shape[0])


@dataclass
class Pipeline:
    """A method, its parameters, the training weight and the calibration (see the module
    docstring); :meth:`run` propagates."""

    method: str = "diffusion"
    weight: str = "own"
    params: dict = field(default_factory=dict)
    calibration: str = "auto"

    # -- settings --------------------------------------------------------------------------
    @classmethod
    def from_config(cls, data: dict, prefix: str = "", default: Pipeline | None = None) -> Pipeline:
        """From a TOML table: ``method``, ``weight``, ``calibration`` and the method's own
        parameters (typed by the method's declaration)."""
        base = default or cls()
        data = dict(data)
        method = str(data.pop("method", base.method))
        weight = str(data.pop("weight", base.weight))
        calibration = str(data.pop("calibration", base.calibration))
        try:
            pcls = get_propagator_class(method)
        except InputError as exc:
            raise InputError(f"{prefix}method: {exc}") from None
        hints = typing.get_type_hints(pcls)
        names = {f.name for f in dataclasses.fields(pcls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(
                f"{prefix}{unknown[0]}: method {method!r} does not take {unknown[0]}; its "
                f"parameters are {', '.join(sorted(names))}"
            )
        params = dict(base.params) if method == base.method else {}
        params.update({k: coerce(v, hints[k], prefix + k) for k, v in data.items()})
        return cls(method, weight, params, calibration)

    def to_config(self) -> dict:
        return {
            "method": self.method,
            "weight": self.weight,
            "calibration": self.calibration,
            **self.params,
        }

    def validate(self, prefix: str = "propagate.") -> None:
        """The method, the weight, the calibration and every parameter, checked without data
        (and without building the propagator)."""
        if self.weight != CALIBRATED:
            check_weight_name(self.weight, allow_own=True, setting=f"{prefix}weight")
        Options(CALIBRATIONS).check(f"{prefix}calibration", self.calibration)
        try:
            check_method_params(self.method, self.params)
        except InputError as exc:
            raise InputError(f"{prefix.rstrip('.')}: {exc}") from None

    def weight_name(self, propagator=None) -> str:
        """The training weight in use: the method's own unless another is named (the
        ``calibrated`` weight is set after calibration)."""
        own = (propagator or get_propagator_class(self.method)).weight
        return own if self.weight in ("own", CALIBRATED) else self.weight

    # -- running ---------------------------------------------------------------------------
    def build(self, n_samples: int, *, seed: int = 0):
        """The propagator, its size parameters fitted to ``n_samples``; ``seed`` is its
        ``random_state`` unless the parameters give one."""
        params = dict(self.params)
        pcls = get_propagator_class(self.method)
        if SEED_PARAMETER in {f.name for f in dataclasses.fields(pcls)}:
            params.setdefault(SEED_PARAMETER, seed)
        return make_propagator(self.method, n_samples=n_samples, **params)

    def graph_fingerprint(self, x: np.ndarray, propagator) -> str:
        """Identifies what ``prepare`` computes: the (checked, unit) features, the method and
        every parameter that ``prepare`` reads (not the solve's, not a runtime choice)."""
        skip = {*RUNTIME_PARAMETERS, *propagator.solve_only}
        settings = {k: v for k, v in dataclasses.asdict(propagator).items() if k not in skip}
        return fingerprint(x, self.method, settings)

    def prepare(self, features, *, seed: int = 0, graph: str | Path | None = None) -> Prepared:
        """The prepared graph of ``features`` alone, to pass to :meth:`run` as ``graph`` for
        each new set of labels (each then costs one solve and the held-out solves)::

            pipeline = Pipeline("diffusion")
            graph = pipeline.prepare(X)
            first, second = pipeline.run(X, y1, graph=graph), pipeline.run(X, y2, graph=graph)
        """
        x = l2_normalize(check_features(features))
        propagator = self.build(x.shape[0], seed=seed)
        if graph is not None:
            return self._prepared(x, propagator, graph=graph)
        return replace(propagator.prepare(x), fingerprint=self.graph_fingerprint(x, propagator))

    def _prepared(
        self, x: np.ndarray, propagator, *, graph: str | Path | Prepared | None = None
    ) -> Prepared:
        """The prepared graph of checked unit rows ``x``: ``graph`` (a Prepared, or a file of
        one) when its fingerprint matches, else computed (and written to ``graph`` when that is
        a path). Without ``graph`` it is computed and not fingerprinted."""
        if graph is None:  # nothing kept: no hash of the features (2-3 s at 10 M × 64)
            return propagator.prepare(x)
        key = self.graph_fingerprint(x, propagator)
        if isinstance(graph, Prepared):
            if graph.fingerprint != key:
                raise InputError(
                    "the prepared graph was built from other features or settings; prepare it "
                    "again (or drop it)"
                )
            return graph
        path = Path(graph)
        if path.is_file():
            kept = Prepared.load(path)
            if kept.fingerprint == key:
                logger.info("graph: kept (%s)", path)
                return replace(kept, timings={})
            logger.info("graph: %s was built from other features or settings; rebuilding", path)
        prepared = replace(propagator.prepare(x), fingerprint=key)
        prepared.save(path)
        return prepared

    def run(
        self,
        features,
        labels,
        n_classes: int | None = None,
        *,
        seed: int = 0,
        calibrate: bool = True,
        graph: str | Path | Prepared | None = None,
        across_processes: bool = False,
        audit=None,
    ) -> PropagationResult:
        """Propagate ``labels`` (-1 = unlabeled) over ``features`` (n, d).

        ``calibrate=False`` skips the held-out solves (per-epoch propagations that only need
        the training weights): ``confidence`` is then the top class probability. ``graph``: a
        kept prepared graph, or a file to keep it in (see :meth:`prepare`). ``info["params"]``
        holds every parameter the method ran with.

        ``across_processes`` (under torchrun, every process calls ``run`` alike): each process
        holds its shard of the rows of X and of the graph, the search, the products and the
        held-out solves exchange what they need (``graph/sharded.py``), and every process gets
        the whole result.
        """
        across_processes = across_processes and distributed.active()
        x, y, c = check_inputs(features, labels, n_classes, shard=across_processes)
        audit = check_audit(audit, y)
        propagator = self.build(len(y), seed=seed)
        if across_processes:
            prepared = self._prepared_shard(x, len(y), propagator, graph)
        else:
            prepared = self._prepared(x, propagator, graph=graph)
        del x  # the checked unit rows: what the solves need is in ``prepared`` (2.6 GB at 10 M)
        result = propagator.solve(prepared, y, c)
        result = self._with_weights(result, propagator)
        method = self.calibration if calibrate or self.weight == CALIBRATED else "none"
        if method != "none":
            result = self._calibrate(propagator, prepared, y, c, result, method, seed, audit)
        if self.weight == CALIBRATED:
            result = result.with_weights(result.confidence, CALIBRATED)
        result.info["params"] = {
            "method": self.method,
            "weight": result.weight_name,
            "calibration": result.info["calibration"]["method"] if result.calibrated else "none",
            **dataclasses.asdict(propagator),
            **result.info.get("fitted_params", {}),  # a default fitted to the data (α)
        }
        return result

    def _prepared_shard(self, x: np.ndarray, n: int, propagator, graph) -> Prepared:
        """The graph over every process's rows, this process holding its own (``x``)."""
        if not propagator.shards:
            raise InputError(
                f"method {self.method!r} does not run across processes; use method='diffusion' "
                "(which does), or run it in one process"
            )
        if graph is not None:
            raise InputError(
                "a kept graph is one process's: across processes each builds its shard anew; "
                "drop --graph (or run one process to keep it)"
            )
        return propagator.prepare_shard(x, n)

    def _with_weights(self, result: PropagationResult, propagator) -> PropagationResult:
        name = self.weight_name(propagator)
        if name == result.weight_name:
            return result
        temperature = getattr(propagator, "confidence_temperature", None)
        extra = {} if temperature is None else {"temperature": temperature}
        return result.with_weights(
            example_weights(name, result.probabilities, result.labeled, **extra), name
        )

    @staticmethod
    def _calibrate(propagator, prepared, y, c, result, method: str, seed: int, audit=None):
        """Out-of-fold solves, the map fitted on them, the calibrated confidence and the
        estimated accuracy."""
        folds = label_folds(y, N_FOLDS, seed)
        if not folds:
            warnings.warn(NOT_CALIBRATED_ONE_LABEL, UserWarning, stacklevel=3)
            return replace(
                result, info={**result.info, "calibration": {"method": "none", "held_out": 0}}
            )
        start = time.perf_counter()
        oof = out_of_fold(propagator, prepared, y, c, folds, result)
        method = resolve(method, propagator.calibration, oof.index.size)
        fitted = fit_map(method, oof.probabilities, oof.given)
        unl = ~result.labeled
        probabilities, confidence = fitted.apply(result.probabilities, unl)
        oof = replace(
            oof,
            probabilities=fitted.probabilities(oof.probabilities),
            confidence=fitted.confidence(oof.probabilities),
        )
        estimate = estimate_accuracy(confidence, result.labels, unl, oof.labels, c)
        audited = np.isin(oof.index, np.flatnonzero(audit)) if audit is not None else None
        if audited is not None and audited.any():
            check = audit_check(oof.labels[audited] == oof.given[audited])
            estimate = replace(estimate, audit=check)
            if not check.agrees(estimate.value):
                warnings.warn(disagreement(estimate.value, check), DataWarning, stacklevel=3)
        seconds = time.perf_counter() - start
        logger.info(
            "confidence calibrated (%s) on %d held-out labels in %d folds, %.2f s",
            method,
            oof.index.size,
            len(folds),
            seconds,
        )
        return replace(
            result,
            probabilities=probabilities,
            confidence=confidence,
            calibrated=True,
            out_of_fold=oof,
            estimated_accuracy=estimate,
            timings={**result.timings, "calibration": seconds},
            info={
                **result.info,
                "calibration": {"method": method, **fitted.params, "folds": len(folds)},
            },
        )
