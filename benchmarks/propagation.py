"""Propagation on Fashion-MNIST PCA-64 features against scikit-learn and graphlearning.

    .venv/bin/python benchmarks/propagation.py [--seeds 0 1 2] [--labels 100 1000] [--out FILE]

Accuracy on the unlabeled points and wall time including the graph and (ours) the calibration
of the confidence on held-out labels, at defaults, for every propagator and,
in the same run, scikit-learn LabelSpreading(kernel="knn", n_neighbors=10) and graphlearning's
Laplace and Poisson learning (its own annoy-free exact kNN graph, k=10). Peers must be installed
(`make bench`). Prints a Markdown table of means over seeds.
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
from common import balanced_split, fashion_pca, machine, timer

from deeplabelprop import propagate

OURS = {
    "diffusion (defaults: k=10, α fitted to m/n)": ("diffusion", {}),
    "diffusion (Iscen: k=50, α=0.99)": ("diffusion", {"n_neighbors": 50, "alpha": 0.99}),
    "diffusion (k=10, α=0.99)": ("diffusion", {"alpha": 0.99}),
    "spectral (η=200, default)": ("spectral", {}),
    "spectral (η=200, DMT eq. 6 filter)": ("spectral", {"spectral_filter": "inverse"}),
    "knn-vote (τ=0.07)": ("knn-vote", {}),
    "local (LLP, K=10, T=25)": ("local", {}),
}


def run_ours(name, x, y):
    method, params = OURS[name]
    stats: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with timer(stats):  # at defaults: the confidence calibrated on held-out labels
            result = propagate(x, y, method, **params)
    stats["stages"] = result.timings
    return result.labels, stats


def run_sklearn(x, y):
    from sklearn.semi_supervised import LabelSpreading

    stats: dict = {}
    with timer(stats):
        pred = LabelSpreading(kernel="knn", n_neighbors=10, max_iter=100).fit(x, y).transduction_
    return pred, stats


def run_graphlearning(kind, x, y):
    import graphlearning as gl

    stats: dict = {}
    train = np.flatnonzero(y >= 0)
    with timer(stats):
        w = gl.weightmatrix.knn(x, 10)
        model = gl.ssl.laplace(w) if kind == "laplace" else gl.ssl.poisson(w)
        pred = model.fit_predict(train, y[train])
    return pred, stats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--title", default="")
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--out", default=None, help="also write the raw results as JSON")
    args = parser.parse_args()
    x, truth = fashion_pca(64)
    runners = {name: (lambda n: lambda x, y: run_ours(n, x, y))(name) for name in OURS}
    runners["scikit-learn LabelSpreading (knn, k=10)"] = run_sklearn
    runners["graphlearning Laplace (k=10)"] = lambda x, y: run_graphlearning("laplace", x, y)
    runners["graphlearning Poisson (k=10)"] = lambda x, y: run_graphlearning("poisson", x, y)
    rows = []
    for n_labeled in args.labels:
        for seed in args.seeds:
            y = balanced_split(truth, n_labeled, seed)
            unl = y < 0
            for name, run in runners.items():
                pred, stats = run(x, y)
                acc = float(np.mean(pred[unl] == truth[unl]))
                rows.append(
                    {"method": name, "labels": n_labeled, "seed": seed, "accuracy": acc, **stats}
                )
                print(
                    f"{n_labeled:5d} seed {seed} {name:42s} {100 * acc:6.2f}%  {stats['seconds']:6.2f} s",
                    flush=True,
                )
    print(f"\nmachine: {machine()}\n")
    print("| method | " + " | ".join(f"{n} labels: accuracy | time" for n in args.labels) + " |")
    print("|---|" + "---|---|" * len(args.labels))
    for name in runners:
        cells = []
        for n in args.labels:
            sel = [r for r in rows if r["method"] == name and r["labels"] == n]
            acc = np.array([r["accuracy"] for r in sel]) * 100
            sec = np.array([r["seconds"] for r in sel])
            cells.append(f"{acc.mean():.2f} ± {acc.std():.2f} % | {sec.mean():.2f} s")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
