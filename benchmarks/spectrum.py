"""η = 200 eigenpairs of L_sym on the Fashion-MNIST kNN graph: Chebyshev vs ARPACK eigsh.

    .venv/bin/python benchmarks/spectrum.py [--eta 200] [--skip-eigsh]

The graph is the ``spectral`` propagator's default (k=20, exp(s/0.1), W = A + Aᵀ) on PCA-64
features. Reports the time of each solver, the largest eigenvalue difference, the smallest cosine
between the two invariant subspaces, and the residuals.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import fashion_pca, machine

from deeplabelprop.graph import knn_graph, laplacian_eigenpairs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eta", type=int, default=200)
    parser.add_argument("--skip-eigsh", action="store_true")
    args = parser.parse_args()
    x, _ = fashion_pca(64)
    t = time.perf_counter()
    graph = knn_graph(x, 20, kernel="exp", tau=0.1)
    print(
        f"graph: {time.perf_counter() - t:.2f} s, nnz {graph.weights.nnz}, recall {graph.knn_recall:.4f}"
    )
    t = time.perf_counter()
    cheb = laplacian_eigenpairs(graph.normalized, args.eta, method="chebyshev")
    t_cheb = time.perf_counter() - t
    print(
        f"chebyshev: {t_cheb:.2f} s, {cheb.n_iter} iterations, max residual {cheb.max_residual:.1e}"
    )
    if not args.skip_eigsh:
        t = time.perf_counter()
        ref = laplacian_eigenpairs(graph.normalized, args.eta, method="eigsh")
        t_ref = time.perf_counter() - t
        cos = np.linalg.svd(cheb.eigenvectors.T @ ref.eigenvectors, compute_uv=False)
        print(
            f"eigsh (ARPACK, float64, which='LA'): {t_ref:.2f} s, max residual {ref.max_residual:.1e}"
        )
        print(
            f"max |λ_cheb - λ_eigsh| = {np.abs(cheb.eigenvalues - ref.eigenvalues).max():.2e}; "
            f"λ_2 = {ref.eigenvalues[1]:.3e}, λ_η = {ref.eigenvalues[-1]:.4f}"
        )
        print(f"subspace cosines: min {cos.min():.5f}, 190th {np.sort(cos)[10]:.5f}")
        print(f"speed-up: {t_ref / t_cheb:.1f}x")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
