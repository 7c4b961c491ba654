"""How the spectral propagator's cost grows with n (issue 18): Gaussian blobs in 64 dimensions,
10 classes, 1,000 labels; the kNN graph, then η = 200 eigenvectors by Chebyshev-filtered
subspace iteration, with the iterations it needed. ``--duplicates 0.2`` makes a fifth of the
rows exact copies of others (a denser spectrum near 0).

    .venv/bin/python benchmarks/spectral_scale.py --n 60000 200000 [--duplicates 0 0.2] --out f.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from common import machine
from sklearn.datasets import make_blobs

from deeplabelprop.propagation import Pipeline


def blobs(n: int, duplicates: float, seed: int = 0):
    x, y = make_blobs(n, n_features=64, centers=10, cluster_std=4.0, random_state=seed)
    x = x.astype(np.float32)
    rng = np.random.default_rng(seed)
    if duplicates:
        copies = rng.choice(n, int(duplicates * n), replace=False)
        x[copies] = x[rng.choice(n, copies.size)]
    labels = np.full(n, -1)
    for c in range(10):
        labels[rng.choice(np.flatnonzero(y == c), 100, replace=False)] = c
    return x, y, labels


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, nargs="+", default=[60_000, 200_000])
    p.add_argument("--duplicates", type=float, nargs="+", default=[0.0])
    p.add_argument(
        "--data",
        choices=["blobs", "sphere"],
        default="blobs",
        help="sphere: benchmarks/scale.py's 200 clusters on the unit sphere in 128-D (an "
        "approximate kNN search keeps its recall there, so 1,000,000 points are in reach)",
    )
    p.add_argument("--out")
    args = p.parse_args()
    rows = []
    for n in args.n:
        for dup in args.duplicates:
            if args.data == "sphere":
                from scale import make_data

                x, truth, labels = make_data(n)
            else:
                x, truth, labels = blobs(n, dup)
            start = time.perf_counter()  # graph, eigenvectors and vote; no calibration
            result = Pipeline("spectral", calibration="none").run(x, labels, 10)
            total = time.perf_counter() - start
            row = {
                "n": n,
                "data": args.data,
                "duplicates": dup,
                "seconds": round(total, 2),
                "stages": {k: round(v, 2) for k, v in result.timings.items()},
                "iterations": result.n_iter,
                "converged": result.converged,
                "accuracy": float(np.mean(result.labels[labels < 0] == truth[labels < 0])),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(machine())
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
