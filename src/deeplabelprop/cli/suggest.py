"""``deeplabelprop suggest SOURCE [LABELS] -n N``: which images to label next, as a
``to_label.csv`` to fill in.

SOURCE is a run folder (its features, labels and calibrated pseudo labels are read, or, for a
``pretrain`` run of a folder nobody has labeled, its features alone; the file goes to the run's
round folder, never into your image folder) or features in ``propagate``'s
formats (``.npy``, an ``.npz`` of ``embed`` with paths), with LABELS optional: without labels it
is the cold start of a folder nobody has labeled yet.

Columns: ``rank, index, path, reason, guess, guess_confidence, label``. Fill in ``label`` (or
leave it empty: not labeled yet) and pass the file to the next ``run --labels-from FILE``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from .._labels import encode_labels
from .._runfile import RUN_FILE, read_run
from ..atomic import atomic_path
from ..data.arrays import load_feature_paths, load_features, load_labels
from ..errors import InputError
from ..propagation import Pipeline, PropagationResult
from ..selection import suggest

NAME = "suggest"
HELP = "which images to label next (to_label.csv), suspect labels first"
COLUMNS = ["rank", "index", "path", "reason", "guess", "guess_confidence", "label"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", type=Path, help="a run folder, or features (.npy / .npz)")
    p.add_argument("labels", type=Path, nargs="?", help="labels for features (as propagate)")
    p.add_argument("-n", type=int, required=True, help="how many new images to label")
    p.add_argument(
        "--audit", type=int, default=3, help="random images to label too (an unbiased check)"
    )
    p.add_argument("--method", default="diffusion", help="propagation for features with labels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", type=Path, help="to_label.csv (a run: its round folder)")


def from_run(run: Path):
    """(features, labels, result, names, classes, default output) of a run folder."""
    record = read_run(run)
    outputs = record["outputs"]
    if "features" not in outputs:
        raise InputError(
            f"{run} has no features yet (its status: {record['status']}); run it to the end first"
        )
    with np.load(run / outputs["labels"], allow_pickle=False) as z:
        given, classes = z["given"], z["classes"]
        names = z["names"].tolist() if "names" in z.files else None
    # a run with pseudo labels: a later round; a metric alone (pretrain): the cold start
    pseudo = outputs.get("pseudo_labels")
    result = PropagationResult.load(run / pseudo)[0] if pseudo else None
    features = np.load(run / outputs["features"], mmap_mode="r")
    folder = run / "rounds" / str(record.get("round", 1))
    return features, given, result, names, list(classes), folder / "to_label.csv"


def from_features(args: argparse.Namespace):
    features = load_features(args.source)
    names = load_feature_paths(args.source)
    if args.labels is None:
        return features, np.full(len(features), -1), None, names, [], None
    raw = load_labels(args.labels, features.shape[0])
    y, classes = encode_labels(raw, None if raw.dtype == object else -1)
    result = None
    if (y >= 0).any():
        result = Pipeline(args.method).run(features, y, len(classes), seed=args.seed)
    return features, y, result, names, [str(c) for c in classes], None


def write(path: Path, s, names, classes) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for rank, (i, reason, g, c) in enumerate(
            zip(s.index, s.reason, s.guess, s.guess_confidence, strict=True), start=1
        ):
            guess = classes[g] if g >= 0 else ""
            conf = f"{c:.4f}" if np.isfinite(c) else ""
            out.writerow([rank, int(i), names[i] if names else "", reason, guess, conf, ""])


def main(args: argparse.Namespace) -> int:
    is_run = args.source.is_dir() and (args.source / RUN_FILE).is_file()
    if args.source.is_dir() and not is_run:
        raise InputError(f"{args.source} is a folder but not a run (no {RUN_FILE})")
    if is_run and args.labels is not None:
        raise InputError("a run folder has its own labels; give LABELS only with features")
    features, y, result, names, classes, default = (
        from_run(args.source) if is_run else from_features(args)
    )
    output = args.output or default
    if output is None:
        raise InputError("give -o to_label.csv (where to write the images to label)")
    chosen = suggest(
        np.asarray(features, dtype=np.float32),
        np.asarray(y),
        args.n,
        result=result,
        audit=args.audit,
        seed=args.seed,
    )
    write(output, chosen, names, classes)
    counts = {r: chosen.reason.count(r) for r in dict.fromkeys(chosen.reason)}
    print(f"wrote {output}: " + ", ".join(f"{n} {r}" for r, n in counts.items()))
    print("fill in its label column, then: deeplabelprop run ... --labels-from " + str(output))
    if is_run and result is not None:
        est = result.estimated_accuracy
        if est is not None:
            print(json.dumps({"estimated_accuracy": round(est.value, 4)}))
    return 0
