"""Diffusion's held-out scores four ways, and the calibration each gives (issue 27 item 2).

    .venv/bin/python benchmarks/held_out_linearity.py --labels 100 --seeds 200 201 202

Hiding label j of class c changes only column c of Y, so with G = (I − α𝒲)⁻¹ the fold's scores
are Z_f[:, c] = (n_c Z[:, c] − G e_j) / (n_c − 1). Compared, on Fashion-MNIST PCA-64:

* ``folds``: the fold solves as the pipeline runs them (float32, main's iterations);
* ``folds converged``: the same solves to tol 1e-8 in float64;
* ``hybrid k``: main's Z minus point sources G e_j of k CG iterations;
* ``consistent k``: every term from the point sources of the labeled rows (k iterations),
  which equals the fold solves once converged (a check of the linearity).

Prints per seed the temperature fitted on the held-out scores, the 15-bin ECE of the
calibrated unlabeled rows, and the seconds of the held-out work.
"""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial

import numpy as np
import torch
from common import balanced_split, fashion_pca

from deeplabelprop.evaluate.metrics import expected_calibration_error
from deeplabelprop.graph import knn_graph
from deeplabelprop.propagation.base import label_matrix
from deeplabelprop.propagation.calibration import apply_temperature, fit_temperature
from deeplabelprop.propagation.diffusion import diffuse, fitted_alpha, fold_columns
from deeplabelprop.propagation.out_of_fold import label_folds
from deeplabelprop.propagation.result import normalize_rows

WIDTH = 34  # columns per CG block


def solve_columns(graph, rhs, alpha, iterations, exact=False):
    """The CG solution of every column of ``rhs``, block by block: ``iterations`` float32
    iterations, or to tol 1e-8 in float64."""
    blocks = []
    for a in range(0, rhs.shape[1], WIDTH):
        z, *_ = diffuse(
            graph,
            rhs[:, a : a + WIDTH].astype(np.float64 if exact else np.float32),
            alpha=alpha,
            max_iter=1000 if exact else iterations,
            tol=1e-8 if exact else 0.0,
            dtype=torch.float64 if exact else torch.float32,
        )
        blocks.append(z)
    return np.concatenate(blocks, axis=1)


def fold_scores(graph, y, z, folds, alpha, iterations, exact):
    """The held-out rows' scores from the fold solves (only the columns a fold changes)."""
    held = np.concatenate(folds)
    offsets = np.r_[0, np.cumsum([len(f) for f in folds])]
    columns = fold_columns(y, folds, z.shape[1])
    rhs = np.zeros((len(y), len(columns)))
    for j, (_, _, kept) in enumerate(columns):
        rhs[kept, j] = 1.0 / kept.size
    solved = solve_columns(graph, rhs, alpha, iterations, exact)[held]
    scores = z[held].copy()
    for j, (k, c, _) in enumerate(columns):
        scores[offsets[k] : offsets[k + 1], c] = solved[offsets[k] : offsets[k + 1], j]
    return scores, y[held]


def hybrid_scores(graph, y, z, folds, alpha, iterations):
    """Main's Z with each fold's hidden labels' point sources taken out."""
    held = np.concatenate(folds)
    offsets = np.r_[0, np.cumsum([len(f) for f in folds])]
    counts = np.bincount(y[y >= 0], minlength=z.shape[1])
    sources = np.zeros((len(y), held.size))
    sources[held, np.arange(held.size)] = 1.0
    g = solve_columns(graph, sources, alpha, iterations)[held]  # G[held, held]
    scores = z[held].copy()
    for f in range(len(folds)):
        rows = slice(offsets[f], offsets[f + 1])
        for j in range(offsets[f], offsets[f + 1]):
            c = y[held[j]]
            scores[rows, c] = (counts[c] * z[held[rows], c] - g[rows, j]) / (counts[c] - 1)
    return scores, y[held]


def consistent_scores(graph, y, folds, alpha, iterations, exact):
    """Every term from point sources on the labeled rows: scores are sums of G[L, L] over
    the labels a fold keeps."""
    labeled = np.flatnonzero(y >= 0)
    fold_of = np.full(len(y), -1)
    for f, fold in enumerate(folds):
        fold_of[fold] = f
    sources = np.zeros((len(y), labeled.size))
    sources[labeled, np.arange(labeled.size)] = 1.0
    g = solve_columns(graph, sources, alpha, iterations, exact)[labeled]
    f = fold_of[labeled]
    kept = ~((f[:, None] == f[None, :]) & (f[:, None] >= 0))
    onehot = np.eye(y.max() + 1)[y[labeled]]
    total, count = (g * kept) @ onehot, kept.astype(float) @ onehot
    rows = np.concatenate([np.flatnonzero(f == k) for k in range(len(folds))])
    return total[rows] / np.maximum(count[rows], 1), y[labeled][rows]


def _report(label, probabilities, truth, name, held_out, start) -> None:
    """The temperature fitted on the held-out scores and the ECE it gives the unlabeled rows."""
    scores, given = held_out
    seconds = time.perf_counter() - start
    t = fit_temperature(normalize_rows(np.clip(scores, 0, None)), given)
    q = apply_temperature(probabilities, t)
    ece = expected_calibration_error(q.max(1), q.argmax(1) == truth)
    print(f"{label}, {name}: T {t:.3f}, ECE {ece:.3f}, {seconds:.2f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--labels", type=int, nargs="+", default=[100])
    p.add_argument("--seeds", type=int, nargs="+", default=[200, 201, 202])
    p.add_argument("--iterations", type=int, nargs="+", default=[6, 8, 19])
    args = p.parse_args()
    warnings.simplefilter("ignore")
    x, truth = fashion_pca()
    graph = knn_graph(x, 10)
    n, c = x.shape[0], 10
    for m in args.labels:
        for seed in args.seeds:
            y = balanced_split(truth, m, seed)
            alpha = fitted_alpha(m, n)
            z, main_iterations, *_ = diffuse(
                graph, label_matrix(y, c), alpha=alpha, max_iter=50, tol=1e-2
            )
            unlabeled = y < 0
            probabilities = normalize_rows(np.clip(z, 0, None))[unlabeled]
            folds = label_folds(y, 10, 0)

            report = partial(_report, f"{m} labels, seed {seed}", probabilities, truth[unlabeled])

            for name, exact in (("folds", False), ("folds converged", True)):
                start = time.perf_counter()
                report(name, fold_scores(graph, y, z, folds, alpha, main_iterations, exact), start)
            for k in args.iterations:
                start = time.perf_counter()
                report(f"hybrid {k}", hybrid_scores(graph, y, z, folds, alpha, k), start)
            for k, exact in [(k, False) for k in args.iterations] + [(0, True)]:
                start = time.perf_counter()
                name = "consistent converged" if exact else f"consistent {k}"
                report(name, consistent_scores(graph, y, folds, alpha, k, exact), start)


if __name__ == "__main__":
    main()
