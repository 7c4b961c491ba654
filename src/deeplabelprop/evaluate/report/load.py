"""What a report needs from a run, read from its ``run.json`` (any recipe, since the run records
where its outputs are) or from a pseudo-label file of ``deeplabelprop propagate``. Nothing here
imports training code."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..._runfile import read_run
from ...data.arrays import load_labels
from ...errors import InputError
from ...propagation import PropagationResult

logger = logging.getLogger(__name__)


@dataclass
class Run:
    """Absent pieces are None. ``confidence`` is what a user thresholds; ``weights`` the training
    weight the run used."""

    name: str
    kind: str
    classes: list[str]
    pseudo: np.ndarray | None = None  # (N,) class indices
    confidence: np.ndarray | None = None
    weights: np.ndarray | None = None
    labeled: np.ndarray | None = None  # (N,) bool
    truth: np.ndarray | None = None
    features: np.ndarray | None = None
    images: object | None = None
    epochs: list[dict] = field(default_factory=list)
    results: dict = field(default_factory=dict)
    test_labels: np.ndarray | None = None
    test_predictions: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    tables: dict[str, list[dict]] = field(default_factory=dict)  # title -> rows


def read_truth(path: Path, classes: list[str], n: int) -> np.ndarray:
    """True labels in ``deeplabelprop propagate``'s label formats (.npy, CSV ``index,label``,
    a split .json), as indices into ``classes``; every point must have one."""
    raw = load_labels(path, n)
    index = {str(c): i for i, c in enumerate(classes)}
    missing = [i for i, v in enumerate(raw) if v is None or (not isinstance(v, str) and v == -1)]
    if missing:
        raise InputError(f"{path} gives no label for point {missing[0]}; give one for every point")
    try:
        return np.array([index[str(v)] for v in raw], dtype=np.int64)
    except KeyError as err:
        raise InputError(
            f"{path}: label {err.args[0]!r} is not one of the classes {classes}"
        ) from None


def _from_result(path: Path, truth: Path | None) -> Run:
    result, classes, _ = PropagationResult.load(path)
    classes = [str(c) for c in classes]
    run = Run(
        path.stem,
        "propagate",
        classes,
        result.labels,
        result.confidence,
        result.weights,
        result.labeled,
    )
    if truth is not None:
        run.truth = read_truth(truth, classes, len(result.labels))
    return run


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _train_images(path: Path, record: dict):
    """The run's training images, rebuilt from the data settings it recorded (None when the data
    cannot be read here)."""
    from ...data import LoadOptions, load_problem

    args = dict(record["data"])
    options = LoadOptions(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in args.pop("options").items()}
    )
    keys = ("n_labeled", "seed", "subset", "validation_fraction")
    try:
        problem = load_problem(
            args["dataset"], options, split_path=path / "split.json", **{k: args[k] for k in keys}
        )
    except InputError as exc:
        logger.info("%s: images not shown (%s)", path, exc)
        return None
    return problem.train.images


def _from_run_dir(path: Path) -> Run:
    record = read_run(path)
    outputs = record["outputs"]
    if "labels" not in outputs:
        raise InputError(
            f"{path}: the run stopped before its data were recorded; nothing to report"
        )
    with np.load(path / outputs["labels"], allow_pickle=False) as z:
        classes = [str(c) for c in z["classes"]]
        run = Run(path.name, record["recipe"], classes)
        run.labeled = z["given"] >= 0
        run.truth = z["truth"] if "truth" in z.files else None
        run.test_labels = z["test_truth"] if "test_truth" in z.files else None
    if "pseudo_labels" in outputs:
        result, _, _ = PropagationResult.load(path / outputs["pseudo_labels"])
        run.pseudo, run.confidence, run.weights = result.labels, result.confidence, result.weights
    if "features" in outputs and (path / outputs["features"]).exists():
        run.features = np.load(path / outputs["features"])
    if "epochs" in outputs:
        run.epochs = _jsonl(path / outputs["epochs"])
    if "results" in outputs:
        run.results = json.loads((path / outputs["results"]).read_text())
    if "test_predictions" in outputs:
        run.test_predictions = np.load(path / outputs["test_predictions"])
    if "tables" in outputs:
        run.tables = json.loads((path / outputs["tables"]).read_text())
    if run.pseudo is not None and run.truth is not None:
        run.images = _train_images(path, record)
    run.notes = (
        list(record["data"].get("notes", [])) if isinstance(record.get("data"), dict) else []
    )
    return run


def load_run(path: str | Path, truth: str | Path | None = None) -> Run:
    """A run directory, or a pseudo-label ``.npz`` with an optional truth file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_file():
        return _from_result(path, None if truth is None else Path(truth))
    return _from_run_dir(path)
