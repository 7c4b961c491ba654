"""Seeded labeled / unlabeled (/ validation) splits, saved as small JSON files.

A split file records the data set's name and size, the seed, the indices and a SHA-256 of the
label array, so every recipe and every peer run uses the identical split, and a split cannot
silently be applied to another data set.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...atomic import atomic_path
from ...errors import InputError


@dataclass(frozen=True)
class Split:
    """Indices into a data set; the three sets are disjoint and cover it."""

    labeled: np.ndarray
    unlabeled: np.ndarray
    validation: np.ndarray
    seed: int
    dataset: str = ""

    def masked_labels(self, labels: np.ndarray) -> np.ndarray:
        """``labels`` with every point outside ``labeled`` set to -1 (the propagators' input)."""
        y = np.full(labels.shape[0], -1, dtype=np.int64)
        y[self.labeled] = labels[self.labeled]
        return y


def labels_checksum(labels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(labels, dtype="<i8").tobytes()).hexdigest()


def _quota(total: int, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """total split over classes as evenly as possible; the remainder goes to random classes."""
    q = np.full(n_classes, total // n_classes)
    q[rng.choice(n_classes, total % n_classes, replace=False)] += 1
    return q


def make_split(
    labels: np.ndarray,
    n_labeled: int,
    *,
    seed: int,
    per_class: bool = True,
    n_validation: int = 0,
    dataset: str = "",
) -> Split:
    """Choose ``n_labeled`` labeled indices (class-balanced with ``per_class``) and an optional
    class-balanced validation subset; the rest is unlabeled. Deterministic in ``seed``."""
    labels = np.asarray(labels, dtype=np.int64)
    classes = np.unique(labels)
    n = labels.shape[0]
    if n_labeled < (len(classes) if per_class else 1):
        raise InputError(
            f"n_labeled={n_labeled} is smaller than the number of classes ({len(classes)}); "
            "a balanced split needs at least one label per class"
        )
    if n_labeled + n_validation > n:
        raise InputError(
            f"n_labeled + n_validation = {n_labeled + n_validation} exceeds the {n} examples"
        )
    rng = np.random.default_rng(seed)
    chosen, held = [], []
    if per_class:
        q_lab, q_val = _quota(n_labeled, len(classes), rng), _quota(n_validation, len(classes), rng)
        for c, a, b in zip(classes, q_lab, q_val, strict=True):
            members = np.flatnonzero(labels == c)
            if a + b > members.size:
                raise InputError(
                    f"class {c} has {members.size} examples but the split asks for {a} labeled + {b} validation; "
                    "lower n_labeled / n_validation or use per_class=False"
                )
            pick = rng.permutation(members)[: a + b]
            chosen.append(pick[:a])
            held.append(pick[a:])
    else:
        pick = rng.permutation(n)[: n_labeled + n_validation]
        chosen.append(pick[:n_labeled])
        held.append(pick[n_labeled:])
    labeled = np.sort(np.concatenate(chosen))
    validation = np.sort(np.concatenate(held)).astype(np.int64)
    rest = np.ones(n, dtype=bool)
    rest[labeled] = False
    rest[validation] = False
    return Split(labeled.astype(np.int64), np.flatnonzero(rest), validation, seed, dataset)


def save_split(path: str | Path, split: Split, labels: np.ndarray, classes=None) -> None:
    """Write the split as JSON (atomically), with the label array's checksum, the labels of the
    labeled rows and the class names (so ``deeplabelprop propagate`` can read it as labels)."""
    labels = np.asarray(labels)
    record = {
        "dataset": split.dataset,
        "n": int(labels.shape[0]),
        "seed": split.seed,
        "labels_sha256": labels_checksum(labels),
        "labeled": split.labeled.tolist(),
        "labels": labels[split.labeled].astype(int).tolist(),
        "validation": split.validation.tolist(),
    }
    if classes is not None:
        record["classes"] = [str(c) for c in classes]
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record))


def load_split(path: str | Path, labels: np.ndarray, dataset: str = "") -> Split:
    """Read a split file and check it belongs to this data set (name, size and label checksum)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
        labeled = np.asarray(record["labeled"], dtype=np.int64)
        validation = np.asarray(record["validation"], dtype=np.int64)
        n, checksum, seed = int(record["n"]), record["labels_sha256"], int(record["seed"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"split file {path} is unreadable or not a split ({exc})") from exc
    labels = np.asarray(labels)
    if dataset and record.get("dataset") and record["dataset"] != dataset:
        raise InputError(
            f"split file {path} belongs to data set {record['dataset']!r}, not {dataset!r}"
        )
    if n != labels.shape[0] or checksum != labels_checksum(labels):
        raise InputError(
            f"split file {path} belongs to another data set (checksum of the labels does not match); "
            "make a new split for this data"
        )
    rest = np.ones(n, dtype=bool)
    rest[labeled] = False
    rest[validation] = False
    return Split(labeled, np.flatnonzero(rest), validation, seed, record.get("dataset", ""))


def split_labels(path: str | Path, n_samples: int) -> np.ndarray:
    """The labels a split file gives: its labeled rows' labels (as class names when it names
    the classes), unlabeled elsewhere (-1, or None for names)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
        labeled = np.asarray(record["labeled"], dtype=np.int64)
        n = int(record["n"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"split file {path} is unreadable or not a split ({exc})") from exc
    if "labels" not in record:
        raise InputError(
            f"split file {path} holds no labels (written by an older version); remake it with "
            "`deeplabelprop split`"
        )
    if n != n_samples:
        raise InputError(f"split file {path} is for {n} rows but the features have {n_samples}")
    values = np.asarray(record["labels"], dtype=np.int64)
    if "classes" in record:
        y = np.full(n, None, dtype=object)
        y[labeled] = [record["classes"][v] for v in values]
        return y
    y = np.full(n, -1, dtype=np.int64)
    y[labeled] = values
    return y


__all__ = ["Split", "labels_checksum", "load_split", "make_split", "save_split", "split_labels"]
