"""The one result type every propagator returns, and its one file format.

Every pseudo-label file (``deeplabelprop propagate``, each recipe's propagation stage, the
per-epoch records of ``lpdssl`` and ``llp``) is written by :meth:`PropagationResult.save` and
read by :meth:`PropagationResult.load`: an ``.npz`` with ``labels`` (class index), ``classes``
(names), ``probabilities``, ``confidence``, ``weights`` (the training weight, named by
``weight_name``), ``class_weights`` (ζ), ``labeled``, ``scores`` and the ``params`` used.
"""

from __future__ import annotations

import csv
import json
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, save_npz
from ..errors import InputError
from .accuracy import AccuracyEstimate
from .confidence import class_balance_weights
from .out_of_fold import OutOfFold
from .suspects import LabelIssues, find_label_issues

FORMAT = "deeplabelprop.pseudo-labels/1"
TOP_K = 3  # classes (with probabilities) per row of a pseudo-label CSV


@dataclass(frozen=True)
class PropagationResult:
    """Pseudo labels and their confidence for every point (labeled points keep their label).

    Attributes
    ----------
    labels : ndarray of shape (n_samples,)            pseudo label; the given label on labeled points
    scores : ndarray of shape (n_samples, n_classes)  raw per-class scores of the method's equation
    probabilities : ndarray of shape (n_samples, n_classes)
        Rows sum to 1; one-hot on labeled points; uniform where no label mass arrives.
    confidence : ndarray of shape (n_samples,)
        The best estimate of P(pseudo label is right), in [0, 1]: calibrated on held-out labels
        when ``calibrated``, else the top class probability. Never NaN; 1 on labeled points.
    weights : ndarray of shape (n_samples,)
        The per-example training weight (DMT α, Iscen ω or LLP p_y; ``weight_name`` says
        which), never a probability. 1 on labeled points.
    class_weights : ndarray of shape (n_classes,)    ζ_j ∝ 1/(|L_j| + |U_j|), mean 1 (Iscen §4)
    labeled : ndarray of shape (n_samples,), bool    which points carried a label
    n_iter : int                                       solver iterations (0 for one-shot methods)
    converged : bool
    timings : dict                                     seconds per stage
    info : dict                                        method-specific facts (kNN recall, ...)
    weight_name : str                                  the weight in ``weights``
    calibrated : bool                                  ``confidence`` was fitted on held-out labels
    out_of_fold : OutOfFold or None                    each given label hidden once (calibration)
    estimated_accuracy : AccuracyEstimate or None      expected accuracy on the unlabeled rows
    """

    labels: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    confidence: np.ndarray
    weights: np.ndarray
    labeled: np.ndarray
    class_weights: np.ndarray
    n_iter: int = 0
    converged: bool = True
    timings: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    weight_name: str = ""
    calibrated: bool = False
    out_of_fold: OutOfFold | None = None
    estimated_accuracy: AccuracyEstimate | None = None

    @property
    def n_classes(self) -> int:
        return self.probabilities.shape[1]

    def label_issues(self) -> LabelIssues:
        """The given labels that look wrong, from the out-of-fold results
        (:func:`~deeplabelprop.propagation.suspects.find_label_issues`)."""
        return find_label_issues(self.out_of_fold, self.labels.size, self.n_classes)

    def with_weights(self, weights: np.ndarray, name: str) -> PropagationResult:
        """The same result with another training weight (1 is kept on labeled points)."""
        w = np.array(weights, dtype=np.float64)
        w[self.labeled] = 1.0
        return replace(self, weights=w, weight_name=name)

    def save(
        self, path: str | Path, classes=None, params: dict | None = None, *, compact: bool = False
    ) -> None:
        """Write the result to ``path`` (.npz) atomically. ``classes``: the name of each class
        index (default 0..c-1). ``compact`` stores labels as int16 and the probabilities and
        weights as float16, without the scores (per-epoch records)."""
        classes = np.asarray(range(self.n_classes) if classes is None else classes)
        real = np.float16 if compact else np.float64
        arrays = {
            "format": np.array(FORMAT),
            "labels": self.labels.astype(np.int16 if compact else np.int64),
            "classes": classes.astype(str),
            "probabilities": self.probabilities.astype(real),
            "confidence": self.confidence.astype(real),
            "weights": self.weights.astype(real),
            "weight_name": np.array(self.weight_name),
            "class_weights": self.class_weights.astype(np.float32),
            "labeled": self.labeled,
            "n_iter": np.array(self.n_iter),
            "converged": np.array(self.converged),
            "params": np.array(json.dumps(params or {}, sort_keys=True, default=str)),
            "timings": np.array(json.dumps(self.timings, sort_keys=True)),
            "calibrated": np.array(self.calibrated),
        }
        if not compact:
            arrays["scores"] = self.scores
        if self.out_of_fold is not None:
            arrays["oof_index"] = self.out_of_fold.index
            arrays["oof_probabilities"] = self.out_of_fold.probabilities.astype(real)
            if self.out_of_fold.confidence is not None:
                arrays["oof_confidence"] = self.out_of_fold.confidence.astype(real)
        if self.estimated_accuracy is not None:
            arrays["estimated_accuracy"] = np.array(
                json.dumps(self.estimated_accuracy.to_dict(list(map(str, classes))))
            )
        save_npz(path, **arrays)

    def save_csv(self, path: str | Path, names: list[str], classes, *, top_k: int = TOP_K) -> None:
        """Write one row per point, keyed by ``names`` (file paths): ``index, path, label,
        confidence, given`` (1 for a label that was given), for a given label ``suspect`` (1 when
        it looks wrong, 0, or "not checked" when it could not be held out), ``suspect_score``
        and ``oof_label`` (the class propagation gives it when hidden), then the ``top_k``
        classes with their probabilities. Atomic."""
        classes = [str(c) for c in classes]
        k = min(top_k, self.n_classes)
        header = ["index", "path", "label", "confidence", "given", "suspect", "suspect_score"]
        header.append("oof_label")
        for j in range(1, k + 1):
            header += [f"class_{j}", f"probability_{j}"]
        top = np.argsort(-self.probabilities, axis=1, kind="stable")[:, :k]
        issues = self.label_issues()
        with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for i, name in enumerate(names):
                row = [i, name, classes[self.labels[i]], f"{self.confidence[i]:.4f}"]
                row.append(int(self.labeled[i]))
                if not self.labeled[i]:
                    row += ["", "", ""]
                elif not issues.checked[i]:
                    row += ["not checked", "", ""]
                else:
                    row.append(int(issues.suspect[i]))
                    row += [f"{issues.score[i]:.4f}", classes[issues.oof_label[i]]]
                for c in top[i]:
                    row += [classes[c], f"{self.probabilities[i, c]:.4f}"]
                writer.writerow(row)

    @classmethod
    def load(cls, path: str | Path) -> tuple[PropagationResult, np.ndarray, dict]:
        """(result, class names, params) from a file written by :meth:`save`."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if "format" not in z.files or str(z["format"]) != FORMAT:
                    raise InputError(
                        f"{path} is not a pseudo-label file of deeplabelprop ({FORMAT}); "
                        "write one with `deeplabelprop propagate`"
                    )
                p = z["probabilities"].astype(np.float64)
                result = cls(
                    labels=z["labels"].astype(np.int64),
                    scores=z["scores"] if "scores" in z.files else p,
                    probabilities=p,
                    confidence=z["confidence"].astype(np.float64),
                    weights=z["weights"].astype(np.float64),
                    labeled=z["labeled"].astype(bool),
                    class_weights=z["class_weights"].astype(np.float64),
                    n_iter=int(z["n_iter"]),
                    converged=bool(z["converged"]),
                    timings=json.loads(str(z["timings"])),
                    weight_name=str(z["weight_name"]),
                    calibrated=bool(z["calibrated"]) if "calibrated" in z.files else False,
                    out_of_fold=_load_out_of_fold(z),
                    estimated_accuracy=(
                        AccuracyEstimate.from_dict(json.loads(str(z["estimated_accuracy"])))
                        if "estimated_accuracy" in z.files
                        else None
                    ),
                )
                classes, params = z["classes"], json.loads(str(z["params"]))
        except InputError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"{path} cannot be read as a pseudo-label file ({exc})") from exc
        return result, classes, params


def _load_out_of_fold(z) -> OutOfFold | None:
    if "oof_index" not in z.files:
        return None
    index = z["oof_index"].astype(np.int64)
    confidence = z["oof_confidence"].astype(np.float64) if "oof_confidence" in z.files else None
    return OutOfFold(
        index,
        z["labels"][index].astype(np.int64),
        z["oof_probabilities"].astype(np.float64),
        confidence,
    )


def warn_empty_classes(labels: np.ndarray, labeled: np.ndarray, n_classes: int) -> None:
    """A class that receives no pseudo label while others do: say so (its ζ is 1, its
    precision undefined)."""
    unl = ~labeled
    if unl.sum() < n_classes:
        return
    counts = np.bincount(labels[unl], minlength=n_classes)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        import warnings

        from ..errors import DataWarning

        warnings.warn(
            f"{empty.size} class(es) (index {', '.join(map(str, empty[:5]))}) receive no pseudo "
            f"label among the {int(unl.sum())} unlabeled points: their labeled examples do not "
            "reach them; label more examples of those classes or use a smoother method "
            "(e.g. diffusion with a larger k)",
            DataWarning,
            stacklevel=4,
        )


def normalize_rows(scores: np.ndarray) -> np.ndarray:
    """Probabilities from non-negative scores: rows divided by their sum; all-zero rows uniform.

    Negative scores are clipped at 0 first (Iscen: "negative scores clipped at 0"), so a point
    that no label mass reaches gets a uniform distribution instead of NaN (the scikit-learn pitfall).
    """
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, None)
    total = s.sum(axis=1, keepdims=True)
    uniform = np.full_like(s, 1.0 / s.shape[1])
    return np.divide(s, total, out=uniform, where=total > 0)


def finalize(
    labels_in: np.ndarray,
    scores: np.ndarray,
    probabilities: np.ndarray,
    weights: np.ndarray,
    *,
    weight_name: str = "",
    n_iter: int = 0,
    converged: bool = True,
    timings: dict | None = None,
    info: dict | None = None,
) -> PropagationResult:
    """Assemble a result: argmax pseudo labels, labeled points clamped to their label with
    probability one-hot and confidence 1; ``weights`` is the training weight ``weight_name``
    (the method's own); ``confidence`` the top class probability until calibration replaces it;
    ζ from the pseudo labels."""
    labeled = labels_in >= 0
    n_classes = probabilities.shape[1]
    probabilities = np.array(probabilities, dtype=np.float64)
    labels = probabilities.argmax(axis=1)
    labels[labeled] = labels_in[labeled]
    warn_empty_classes(labels, labeled, n_classes)
    probabilities[labeled] = np.eye(n_classes)[labels_in[labeled]]
    weights = np.clip(np.asarray(weights, dtype=np.float64), 0.0, 1.0)
    weights[labeled] = 1.0
    return PropagationResult(
        labels=labels,
        scores=np.asarray(scores, dtype=np.float64),
        probabilities=probabilities,
        confidence=probabilities.max(axis=1),
        weights=weights,
        labeled=labeled,
        class_weights=class_balance_weights(labels, n_classes),
        n_iter=int(n_iter),
        converged=bool(converged),
        timings=dict(timings or {}),
        info=dict(info or {}),
        weight_name=weight_name,
    )
