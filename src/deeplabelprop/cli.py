"""Command line: each subcommand maps onto one library call.

    deeplabelprop propagate FEATURES LABELS --method M [--k --alpha --eta ...] -o OUT.npz
    deeplabelprop split DATASET --n-labeled N --seed S -o split.json
    deeplabelprop pretrain --dataset D --model M --method instance|nca|bootstrap -o runs/NAME
    deeplabelprop methods
    deeplabelprop demo

Bad input prints one line ``deeplabelprop: error: ...`` and exits with code 2; no partial
output file is left behind (outputs are written atomically).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from .atomic import save_npz
from .data import load_features, load_labels
from .errors import InputError
from .propagation import PROPAGATORS, PropagationResult, make_propagator

# generic flags -> propagator parameter names; a flag the method does not take is an error
FLAG_PARAMS = {
    "k": "n_neighbors",
    "alpha": "alpha",
    "gamma": "gamma",
    "tau": "tau",
    "eta": "n_components",
    "max_iter": "max_iter",
    "tol": "tol",
    "backend": "backend",
    "device": "device",
    "seed": "random_state",
}


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deeplabelprop", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("propagate", help="pseudo labels and confidence for every row of FEATURES")
    p.add_argument("features", type=Path, help=".npy or .npz array of shape (n, d)")
    p.add_argument(
        "labels", type=Path, help=".npy of n labels (-1 = unlabeled) or CSV 'index,label'"
    )
    p.add_argument("--method", "-m", default="diffusion", choices=sorted(PROPAGATORS))
    p.add_argument("--k", type=int, help="neighbours in the kNN graph (n_neighbors)")
    p.add_argument("--alpha", type=float, help="diffusion / spectral filter α in [0, 1)")
    p.add_argument("--gamma", type=float, help="power affinity exponent γ")
    p.add_argument("--tau", type=float, help="temperature τ of exp(s/τ)")
    p.add_argument("--eta", type=int, help="spectral: number of eigenvectors η")
    p.add_argument("--max-iter", dest="max_iter", type=int, help="solver iterations")
    p.add_argument("--tol", type=float, help="solver tolerance")
    p.add_argument("--backend", choices=["auto", "faiss", "torch"], help="kNN backend")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--seed", type=int, help="random_state")
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

    sp = sub.add_parser(
        "split", help="a seeded labeled/unlabeled split of a data set, saved as JSON"
    )
    sp.add_argument(
        "dataset",
        help="fashion-mnist, mnist, cifar10, cifar100, cifar100-coarse, digits, folder:PATH, npz:PATH",
    )
    sp.add_argument(
        "--n-labeled", type=int, required=True, help="labeled examples (class-balanced)"
    )
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--n-validation", type=int, default=0, help="held-out validation examples")
    sp.add_argument(
        "--global",
        dest="per_class",
        action="store_false",
        help="sample labels uniformly, not per class",
    )
    sp.add_argument("--data-dir", type=Path, help="where the data set's files are")
    sp.add_argument(
        "--download", action="store_true", help="fetch missing MNIST-family files (SHA-256 checked)"
    )
    sp.add_argument("-o", "--output", type=Path, required=True, help="split .json")

    pt = sub.add_parser(
        "pretrain",
        help="train a metric (instance discrimination, NCA, bootstrap); writes features.npy",
    )
    pt.add_argument("--dataset", default="fashion-mnist")
    pt.add_argument(
        "--model",
        default="small-cnn",
        help="small-cnn, conv4, conv13, wrn-28-2, wrn-28-10, resnet18, resnet50",
    )
    pt.add_argument("--method", default="instance", choices=["instance", "nca", "bootstrap"])
    pt.add_argument("--epochs", type=int, default=25)
    pt.add_argument("--lr", type=float, default=0.03)
    pt.add_argument("--batch-size", type=int, default=256)
    pt.add_argument(
        "--tau", type=float, default=0.1, help="temperature of the non-parametric softmax"
    )
    pt.add_argument(
        "--nce-negatives", type=int, help="NCE with this many negatives instead of the full softmax"
    )
    pt.add_argument(
        "--objective",
        default="memory-bank",
        choices=["memory-bank", "two-view"],
        help="instance: softmax over the memory bank (Wu et al.) or two augmented views per image",
    )
    pt.add_argument(
        "--crop-scale", type=float, default=0.2, help="smallest area fraction of the random crops"
    )
    pt.add_argument(
        "--jitter",
        type=float,
        default=0.4,
        help="colour jitter strength: brightness and contrast factors in [1 - j, 1 + j]",
    )
    pt.add_argument(
        "--erase",
        type=float,
        default=0.0,
        help="probability of random erasing (one rectangle of 2-20 %% of the image per view)",
    )
    pt.add_argument("--embedding-dim", type=int, default=128)
    pt.add_argument("--width", type=int, help="backbone width (model-specific meaning)")
    pt.add_argument("--n-labeled", type=int, default=100, help="bootstrap: labeled examples")
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--data-dir")
    pt.add_argument("--device")
    pt.add_argument(
        "--restart", action="store_true", help="ignore an existing checkpoint in the output folder"
    )
    pt.add_argument("-o", "--output", type=Path, required=True, help="run directory")

    rn = sub.add_parser("run", help="run (or resume) a recipe from its TOML config")
    rn.add_argument("config", type=Path, help="e.g. configs/fashion-mnist/dmt.toml")
    rn.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set n_labeled=40 --set finetune.epochs=10",
    )
    rn.add_argument(
        "--fast-dev-run", action="store_true", help="every stage on 512 images for one epoch"
    )
    rn.add_argument("-o", "--output", type=Path, required=True, help="run directory")

    rp = sub.add_parser(
        "report", help="figures and tables of run directories or propagate .npz outputs"
    )
    rp.add_argument("runs", type=Path, nargs="+", help="run directories or propagate .npz files")
    rp.add_argument(
        "--truth", type=Path, help="for .npz inputs: true labels (.npy or CSV), one per point"
    )
    rp.add_argument(
        "--embedding", choices=["pca", "tsne"], default="pca", help="2-D map (t-SNE is slower)"
    )
    rp.add_argument("-o", "--output", type=Path, required=True, help="report folder")

    sub.add_parser("methods", help="list the propagation methods and their parameters")
    d = sub.add_parser("demo", help="propagation on scikit-learn's digits with 10 labels")
    d.add_argument("--seed", type=int, default=0)
    return parser


def _encode_labels(raw: np.ndarray, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(codes with -1 unlabeled, classes) from integer labels or names."""
    if raw.dtype == object:
        labeled = np.array([v is not None for v in raw])
        if n_classes is not None:
            raise InputError(
                "--n-classes applies to integer labels; names define their own classes"
            )
        if not labeled.any():
            raise InputError("no labeled point: the labels file lists no label")
        classes, codes = np.unique(raw[labeled].astype(str), return_inverse=True)
    else:
        labeled = raw >= 0
        bad = raw[raw < -1]
        if bad.size:
            raise InputError(
                f"label {int(bad[0])} is out of range: use -1 for unlabeled and 0..C-1 for classes"
            )
        if not labeled.any():
            raise InputError(
                "no labeled point: every label is -1; label at least one example per class"
            )
        if n_classes is not None:
            if raw.max() >= n_classes:
                raise InputError(
                    f"label {int(raw.max())} is outside the classes 0..{n_classes - 1} (--n-classes {n_classes})"
                )
            classes = np.arange(n_classes)
            codes = raw[labeled]
        else:
            classes, codes = np.unique(raw[labeled], return_inverse=True)
    y = np.full(raw.shape[0], -1, dtype=np.int64)
    y[labeled] = codes
    return y, classes


def _method_params(args: argparse.Namespace) -> dict:
    params = {
        name: getattr(args, flag)
        for flag, name in FLAG_PARAMS.items()
        if getattr(args, flag) is not None
    }
    for key, value in args.param:
        params[key] = value
    return params


def save_result(path: Path, result: PropagationResult, classes: np.ndarray, params: dict) -> None:
    """Write OUT.npz atomically: labels (class values), probabilities, confidence, weights, ..."""
    if path.suffix != ".npz":
        raise InputError(f"output {path} must end in .npz")
    try:
        _write_npz(path, result, classes, params)
    except OSError as exc:
        raise InputError(
            f"could not write {path} ({exc.strerror or exc}); choose a writable path"
        ) from exc


def _write_npz(path: Path, result: PropagationResult, classes: np.ndarray, params: dict) -> None:
    save_npz(
        path,
        labels=classes[result.labels],
        label_index=result.labels,
        probabilities=result.probabilities,
        confidence=result.confidence,
        weights=result.weights,
        scores=result.scores,
        labeled=result.labeled,
        classes=classes,
        params=np.array(json.dumps(params, sort_keys=True)),
        timings=np.array(json.dumps(result.timings, sort_keys=True)),
    )


def summary(result: PropagationResult, classes: np.ndarray, elapsed: dict) -> str:
    """A short text summary: stage times, per-class counts and confidence."""
    lines = [
        "stage times: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in {**elapsed, **result.timings}.items())
    ]
    if result.info.get("knn_recall") is not None:
        lines.append(f"approximate kNN recall: {result.info['knn_recall']:.4f}")
    unl = ~result.labeled
    lines.append(
        f"{int(result.labeled.sum())} labeled, {int(unl.sum())} pseudo-labeled; "
        f"mean confidence {result.confidence[unl].mean() if unl.any() else float('nan'):.3f}; "
        f"solver: {result.n_iter} iteration(s), converged={result.converged}"
    )
    width = max(5, max(len(str(c)) for c in classes))
    lines.append(f"{'class':>{width}} {'labeled':>8} {'pseudo':>8} {'mean conf':>9}")
    for code, name in enumerate(classes):
        pseudo = unl & (result.labels == code)
        conf = result.confidence[pseudo].mean() if pseudo.any() else float("nan")
        lines.append(
            f"{str(name):>{width}} {int((result.labeled & (result.labels == code)).sum()):>8} "
            f"{int(pseudo.sum()):>8} {conf:>9.3f}"
        )
    return "\n".join(lines)


def cmd_propagate(args: argparse.Namespace) -> int:
    elapsed: dict = {}
    t0 = time.perf_counter()
    features = load_features(args.features)
    raw = load_labels(args.labels, features.shape[0])
    y, classes = _encode_labels(raw, args.n_classes)
    elapsed["read"] = time.perf_counter() - t0
    params = _method_params(args)
    propagator = make_propagator(args.method, **params)
    result = propagator.propagate(features, y, len(classes))
    t1 = time.perf_counter()
    used = {"method": args.method, **dataclasses.asdict(propagator)}
    save_result(args.output, result, classes, used)
    elapsed["write"] = time.perf_counter() - t1
    if not args.quiet:
        print(summary(result, classes, elapsed))
        print(f"wrote {args.output}")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from .data import load_dataset, make_split, save_split

    data = load_dataset(args.dataset, "train", args.data_dir, download=args.download)
    split = make_split(
        data.labels,
        args.n_labeled,
        seed=args.seed,
        per_class=args.per_class,
        n_validation=args.n_validation,
        dataset=data.name,
    )
    save_split(args.output, split, data.labels)
    counts = np.bincount(data.labels[split.labeled], minlength=len(data.classes))
    print(
        f"{data.name}: {len(data)} images {data.shape}; {split.labeled.size} labeled, "
        f"{split.unlabeled.size} unlabeled, {split.validation.size} validation (seed {args.seed})"
    )
    print(
        "labeled per class: "
        + ", ".join(f"{c}={k}" for c, k in zip(data.classes, counts, strict=True))
    )
    print(f"wrote {args.output}")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from .pretrain.run import PretrainConfig, run_pretraining

    cfg = PretrainConfig(
        dataset=args.dataset,
        model=args.model,
        method=args.method,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        tau=args.tau,
        nce_negatives=args.nce_negatives,
        objective=args.objective,
        crop_scale=args.crop_scale,
        jitter=args.jitter,
        erase=args.erase,
        embedding_dim=args.embedding_dim,
        width=args.width,
        n_labeled=args.n_labeled,
        seed=args.seed,
        data_dir=args.data_dir,
        device=args.device,
    )
    metrics = run_pretraining(
        cfg, args.output, resume=not args.restart, progress=sys.stderr.isatty()
    )
    print("final: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float)))
    print(f"wrote {args.output}/features.npy and encoder.pt")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .recipes import load_recipe

    overrides = args.overrides + (["fast_dev_run=true"] if args.fast_dev_run else [])
    name, cfg, runner = load_recipe(args.config, overrides)
    results = runner(cfg, args.output, progress=sys.stderr.isatty())
    print(
        f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in results.items() if isinstance(v, float))
    )
    print(f"wrote {args.output}/results.json")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .evaluate.report import build_report

    tables = build_report(args.runs, args.output, truth=args.truth, embedding=args.embedding)
    for row in tables["summary"]:
        print(
            ", ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
            )
        )
    print(f"wrote {args.output}/report.md and report.html")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    for name in sorted(PROPAGATORS):
        cls = PROPAGATORS[name]
        print(f"{name}: {(cls.__doc__ or '').strip().splitlines()[0]}")
        for f in dataclasses.fields(cls):
            print(f"    {f.name} = {f.default!r}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    print(run_demo(seed=args.seed))
    return 0


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (it may be replaced)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        return None


def _setup_logging(quiet: bool) -> None:
    handler = _StderrHandler()
    start = time.perf_counter()

    class _Elapsed(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"[{time.perf_counter() - start:7.2f} s] {record.getMessage()}"

    handler.setFormatter(_Elapsed())
    root = logging.getLogger("deeplabelprop")
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(
        getattr(args, "quiet", False)
        or args.command not in ("propagate", "split", "pretrain", "run", "report")
    )
    commands = {
        "propagate": cmd_propagate,
        "split": cmd_split,
        "pretrain": cmd_pretrain,
        "run": cmd_run,
        "methods": cmd_methods,
        "demo": cmd_demo,
        "report": cmd_report,
    }
    try:
        return commands[args.command](args)
    except InputError as exc:
        print(f"deeplabelprop: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
