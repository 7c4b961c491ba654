"""Where the labels of a run live, and what a rerun reads.

* A folder of the ``labeled/<class>/`` + ``unlabeled/`` layout, a folder with a ``labels.csv``,
  or a folder nobody has labeled yet: the folder's own ``labels.csv`` (or the run's ``labels``
  setting). Its rows win over the class folders, so a correction never moves an image file;
  the data set reads it as it is, on the next round and in every other tool.
* A benchmark set (arrays such as ``fashion-mnist``, or a fully labeled ``<class>/`` or
  ImageNet folder) or shards (``webdataset:``, ``parquet:``, ``arrow:``): ``labels.csv``
  beside the run, keyed by the data set's own key (its example name, ``fashion-mnist#123``,
  its path, or the shard's key), which the run reads on top of the data set's labels
  (``recipes/run_dir.with_kept_labels``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._runfile import read_run
from ..data.readers.folder import labels_csv, layout_of
from ..data.readers.options import LoadOptions
from ..errors import InputError

USER_LAYOUTS = ("labeled-unlabeled", "labels-csv", "unlabeled-pile")


@dataclass(frozen=True)
class LabelTarget:
    """``csv``: the label file written; ``keys``: the key of each row of the run (its
    ``names``); ``base``: labels that do not come from ``csv`` (class folders, a benchmark
    split) by key; ``root``: the image folder (None for arrays); ``fixed_classes``: a
    benchmark set's classes (None: the person manages them)."""

    csv: Path
    keys: tuple[str, ...]
    base: dict[str, str]
    root: Path | None
    fixed_classes: tuple[str, ...] | None


def run_labels(run: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """(given, classes, names) of the run's last round (``labels.npz``)."""
    record = read_run(run)
    if "labels" not in record["outputs"]:
        raise InputError(f"{run} has no labels yet (status {record['status']}); run it first")
    with np.load(run / record["outputs"]["labels"], allow_pickle=False) as z:
        return z["given"], [str(c) for c in z["classes"]], [str(n) for n in z["names"]]


def label_target(run: str | Path) -> LabelTarget:
    """Where the labels of run ``run`` live (see the module docstring)."""
    run = Path(run)
    record = read_run(run)
    data = record["data"]
    spec, options = data["dataset"], data.get("options", {})
    given, classes, names = run_labels(run)
    kind, _, argument = spec.partition(":")
    if kind == "folder":
        root = Path(argument).expanduser()
        opts = LoadOptions(labels=options.get("labels"))
        if root.is_dir() and layout_of(root, opts).name in USER_LAYOUTS:
            base = {
                n: Path(n).parts[1]
                for n in names
                if len(Path(n).parts) > 2 and Path(n).parts[0] == "labeled"
            }
            return LabelTarget(labels_csv(root, opts), tuple(names), base, root, None)
    root = Path(argument).expanduser() if kind in ("folder", "imagenet") else None
    csv = run / "labels.csv"
    return LabelTarget(
        csv,
        tuple(names),
        _split_base(run, names, classes),
        root,
        tuple(classes),
    )


def _split_base(run: Path, names: list[str], classes: list[str]) -> dict[str, str]:
    """The labels a data set gives itself: a benchmark run's split (``split.json``: rows and
    their classes), or, for shards with labels of their own, those of the run's first round
    (before any correction of the review page, which starts after it)."""
    path = run / "split.json"
    if not path.is_file():
        first = run / "rounds" / "1" / "labels.npz"
        if not first.is_file():
            return {}
        with np.load(first, allow_pickle=False) as z:
            given, named = z["given"], [str(c) for c in z["classes"]]
            keys = [str(n) for n in z["names"]]
        return {k: named[g] for k, g in zip(keys, given, strict=True) if g >= 0}
    record = json.loads(path.read_text())
    return {
        names[i]: classes[k]
        for i, k in zip(record["labeled"], record["labels"], strict=True)
        if i < len(names)
    }
