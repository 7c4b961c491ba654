"""``deeplabelprop propagate FEATURES LABELS -o OUT.npz``: pseudo labels for every row."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np

from .. import distributed
from .._labels import encode_labels
from ..data.arrays import load_feature_paths, load_features, load_labels
from ..errors import InputError
from ..propagation import PROPAGATORS, Pipeline, PropagationResult
from ..propagation.calibration import CALIBRATIONS
from ..propagation.parameters import PARAMETERS

NAME = "propagate"
HELP = "pseudo labels and confidence for every row of FEATURES"


def _parse_value(text: str):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        with contextlib.suppress(ValueError):
            return cast(text)
    return text


def _parse_param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip().replace("-", "_"), _parse_value(value)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("features", type=Path, help=".npy or .npz array of shape (n, d)")
    p.add_argument(
        "labels",
        type=Path,
        help=".npy of n labels (-1 = unlabeled), CSV 'index,label', or a split .json",
    )
    p.add_argument("--method", "-m", default="diffusion", choices=sorted(PROPAGATORS))
    p.add_argument("--weight", default="own", help="training weight (see `methods`)")
    p.add_argument(
        "--calibration",
        default="auto",
        choices=list(CALIBRATIONS),
        help="how confidence becomes P(pseudo label is right), fitted on held-out labels",
    )
    for parameter in PARAMETERS:  # the one table of short names (a method that does not take
        p.add_argument(  # one it is given refuses it)
            f"--{parameter.flag}",
            dest=parameter.name,
            type=parameter.type,
            choices=parameter.choices,
            help=parameter.help,
        )
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and of random_state")
    p.add_argument(
        "--graph",
        type=Path,
        help="keep the prepared kNN graph in this file and reuse it while the features and "
        "graph settings are the same (a new round of labels then costs one solve)",
    )
    p.add_argument(
        "--param",
        "-p",
        action="append",
        type=_parse_param,
        default=[],
        metavar="KEY=VALUE",
        help="any other parameter of the method (see 'deeplabelprop methods')",
    )
    p.add_argument(
        "--n-classes",
        type=int,
        help="number of classes (integer labels 0..C-1); "
        "default: the classes that have a labeled example",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="output .npz")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress or summary")


def method_params(args: argparse.Namespace) -> dict:
    params = {
        parameter.name: getattr(args, parameter.name)
        for parameter in PARAMETERS
        if getattr(args, parameter.name) is not None
    }
    for key, value in args.param:
        params[key] = value
    return params


def summary(result: PropagationResult, classes: np.ndarray, elapsed: dict) -> str:
    """A short text summary: stage times, per-class counts and confidence."""
    lines = [
        "stage times: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in {**elapsed, **result.timings}.items())
    ]
    if result.info.get("knn_recall") is not None:
        lines.append(f"approximate kNN recall: {result.info['knn_recall']:.4f}")
    if result.info.get("processes", 1) > 1:
        lines.append(
            f"{result.info['processes']} processes, rows sharded; process 0 sent "
            f"{distributed.SENT['bytes'] / 2**20:.1f} MiB to the others"
        )
    unl = ~result.labeled
    mean = f"{result.confidence[unl].mean():.3f}" if unl.any() else "-"
    lines.append(
        f"{int(result.labeled.sum())} labeled, {int(unl.sum())} pseudo-labeled; mean confidence "
        f"{mean}; solver: {result.n_iter} iteration(s), converged={result.converged}"
    )
    lines.append(accuracy_line(result))
    width = max(5, max(len(str(c)) for c in classes))
    lines.append(f"{'class':>{width}} {'labeled':>8} {'pseudo':>8} {'mean conf':>9}")
    for code, name in enumerate(classes):
        pseudo = unl & (result.labels == code)
        conf = f"{result.confidence[pseudo].mean():9.3f}" if pseudo.any() else f"{'-':>9}"
        lines.append(
            f"{str(name):>{width}} {int((result.labeled & (result.labels == code)).sum()):>8} "
            f"{int(pseudo.sum()):>8} {conf}"
        )
    return "\n".join(lines)


def accuracy_line(result: PropagationResult) -> str:
    """The estimated accuracy of the pseudo labels with its interval, or why there is none."""
    est = result.estimated_accuracy
    if est is None or not np.isfinite(est.value):
        return (
            "estimated accuracy: none (the confidence is not calibrated: no label could be held "
            "out; label two or more per class)"
        )
    return (
        f"estimated accuracy of the pseudo labels: {100 * est.value:.1f} % (95 % interval "
        f"{100 * est.low:.1f}-{100 * est.high:.1f} %, from {est.n_held_out} held-out labels)"
    )


def main(args: argparse.Namespace) -> int:
    if args.output.suffix != ".npz":
        raise InputError(f"output {args.output} must end in .npz")
    elapsed: dict = {}
    t0 = time.perf_counter()
    features = load_features(args.features)
    paths = load_feature_paths(args.features)
    raw = load_labels(args.labels, features.shape[0])
    y, classes = encode_labels(raw, None if raw.dtype == object else -1, n_classes=args.n_classes)
    elapsed["read"] = time.perf_counter() - t0
    pipeline = Pipeline(args.method, args.weight, method_params(args), args.calibration)
    pipeline.validate(prefix="")
    result = pipeline.run(
        features,
        y,
        len(classes),
        seed=args.seed,
        graph=args.graph,
        across_processes=distributed.active(),  # under torchrun: rows sharded by process
    )
    if not distributed.is_main():  # process 0 writes and reports
        return 0
    t1 = time.perf_counter()
    try:
        result.save(args.output, classes, result.info["params"])
        if paths is not None:  # features of files: pseudo labels by file too
            if len(paths) != len(y):
                raise InputError(f"{args.features} has {len(paths)} paths for {len(y)} rows")
            result.save_csv(args.output.with_suffix(".csv"), paths, classes)
    except OSError as exc:
        raise InputError(
            f"could not write {args.output} ({exc.strerror or exc}); choose a writable path"
        ) from exc
    elapsed["write"] = time.perf_counter() - t1
    if not args.quiet:
        print(summary(result, classes, elapsed))
        print(f"wrote {args.output}" + (f" and {args.output.with_suffix('.csv')}" if paths else ""))
    return 0
