"""1,000,000 × 128 float32 points, 0.1 % labeled: approximate kNN + diffusion, time and peak memory.

    .venv/bin/python benchmarks/scale.py [--n 1000000] [--k 50] [--sklearn-timeout 300]

Synthetic clustered data: 200 Gaussian clusters on the unit sphere in 128-D, each cluster one
of 10 classes; 1,000 labeled points (100 per class). Reports wall time per stage, kNN recall
(sampled), accuracy on the unlabeled points, and peak resident memory (ru_maxrss). Then tries
scikit-learn's LabelSpreading at the same size in a subprocess with a time limit and reports how
it ends (rbf: its dense n × n matrix; knn: its neighbour search).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
from common import machine


def make_data(
    n: int,
    d: int = 128,
    n_clusters: int = 200,
    n_classes: int = 10,
    seed: int = 0,
    sigma: float = 0.08,
    labeled: float | None = None,
):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, d)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    cluster = rng.integers(0, n_clusters, n)
    x = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 100_000):  # in blocks: no float64 copy of the whole set
        stop = min(n, start + 100_000)
        x[start:stop] = centers[cluster[start:stop]] + sigma * rng.standard_normal(
            (stop - start, d), dtype=np.float32
        )
    truth = cluster % n_classes
    y = np.full(n, -1)
    per_class = (
        100 * n // 1_000_000 or 1 if labeled is None else max(1, int(labeled * n / n_classes))
    )
    for c in range(n_classes):
        y[rng.choice(np.flatnonzero(truth == c), per_class, replace=False)] = c
    return x, truth, y


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


SKLEARN = """
import sys, time, numpy as np
sys.path.insert(0, "benchmarks")
from scale import make_data
from sklearn.semi_supervised import LabelSpreading
x, truth, y = make_data({n})
t = time.perf_counter()
try:
    LabelSpreading(kernel="{kernel}", n_neighbors=10).fit(x, y)
    print("finished in %.1f s" % (time.perf_counter() - t))
except MemoryError as exc:
    print("MemoryError after %.1f s: %s" % (time.perf_counter() - t, str(exc)[:120]))
"""


def try_sklearn(n: int, kernel: str, timeout: int) -> str:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SKLEARN.format(n=n, kernel=kernel)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"did not finish within {timeout} s"
    out = (proc.stdout + proc.stderr).strip().splitlines()
    return out[-1] if out else f"exit code {proc.returncode}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=50, help="0: the method's default")
    parser.add_argument("--sklearn-timeout", type=int, default=300)
    parser.add_argument("--skip-sklearn", action="store_true")
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--sigma", type=float, default=0.08)
    parser.add_argument("--labeled", type=float, help="labeled fraction (default 100 per million)")
    parser.add_argument(
        "--graph", help="keep the graph in this file, then time a second round of new labels"
    )
    parser.add_argument(
        "--recall-target",
        type=float,
        help="a benchmark knob: the recall the IVF search tunes nprobe to (default 0.95), lower "
        "to time the stages after the graph at 10 M without the full search",
    )
    args = parser.parse_args()
    t = time.perf_counter()
    x, truth, y = make_data(args.n, args.d, args.clusters, sigma=args.sigma, labeled=args.labeled)
    print(
        f"data: {x.shape} float32, {int((y >= 0).sum())} labeled, generated in {time.perf_counter() - t:.1f} s, "
        f"peak {peak_gb():.2f} GB so far"
    )
    from deeplabelprop import propagate

    size = {"n_neighbors": args.k} if args.k else {}
    if args.recall_target is not None:
        import importlib

        importlib.import_module("deeplabelprop.graph.knn").RECALL_TARGET = args.recall_target
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = propagate(x, y, "diffusion", exact=False, graph=args.graph, **size)
    total = time.perf_counter() - t
    unl = y < 0
    print(
        f"diffusion k={args.k}: {total:.1f} s total; stages {', '.join(f'{k} {v:.1f} s' for k, v in result.timings.items())}"
    )
    print(
        f"kNN recall (sampled): {result.info['knn_recall']:.4f}; CG: {result.n_iter} iterations, "
        f"relative residual {result.info['cg_relative_residual']:.1e}; warnings: {[str(w.message)[:60] for w in caught]}"
    )
    print(f"accuracy on unlabeled: {100 * np.mean(result.labels[unl] == truth[unl]):.2f} %")
    print(f"peak resident memory: {peak_gb():.2f} GB")
    if args.graph:  # round 2: as many new labels again, the kept graph
        rng = np.random.default_rng(1)
        more = rng.choice(np.flatnonzero(y < 0), int((y >= 0).sum()), replace=False)
        y2 = y.copy()
        y2[more] = truth[more]
        t = time.perf_counter()
        second = propagate(x, y2, "diffusion", exact=False, graph=args.graph, **size)
        unl2 = y2 < 0
        print(
            f"round 2 ({int((y2 >= 0).sum())} labels, kept graph): {time.perf_counter() - t:.1f} s; "
            f"stages {', '.join(f'{k} {v:.1f} s' for k, v in second.timings.items())}; accuracy "
            f"{100 * np.mean(second.labels[unl2] == truth[unl2]):.2f} %; peak {peak_gb():.2f} GB"
        )
    print(f"machine: {machine()}")
    if not args.skip_sklearn:
        for kernel in ("rbf", "knn"):
            print(
                f"scikit-learn LabelSpreading(kernel={kernel!r}) at n={args.n}: "
                f"{try_sklearn(args.n, kernel, args.sklearn_timeout)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
