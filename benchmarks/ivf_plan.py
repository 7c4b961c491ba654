"""The large-set IVF plan: list count, training points per list, lists visited, HNSW efSearch.

    .venv/bin/python benchmarks/ivf_plan.py [--n 3000000] [--clusters 90] [--rounds 3]

The data of ``scale.py`` (Gaussian clusters on the unit sphere in 64-D, σ = 0.1; 90 clusters
at 3 M points have the 33,000 points per cluster of the 10 M, 300-cluster set). For each list
count it trains the index the library builds from 2 M points (``IVF<nlist>_HNSW32,
PQ64x4fs,RFlat``, the best 32·k candidates re-ranked exactly) and times its search of 30,000
queries at each (nprobe, efSearch), in turns, ``--rounds`` times (this machine's speed drifts:
compare medians of one run). Recall@10 is measured on 1,000 other queries against exact search.
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np
from common import machine
from scale import make_data


def build(x: np.ndarray, nlist: int, per_list: int, seed: int = 0):
    """(index, its IVF part, train seconds, add seconds)."""
    ix = faiss.index_factory(
        x.shape[1], f"IVF{nlist}_HNSW32,PQ64x4fs,RFlat", faiss.METRIC_INNER_PRODUCT
    )
    ivf = faiss.extract_index_ivf(ix)
    ivf.cp.niter, ivf.cp.min_points_per_centroid = 10, per_list
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    ix.train(x[np.sort(rng.choice(len(x), per_list * nlist, replace=False))])
    trained = time.perf_counter() - t
    t = time.perf_counter()
    ix.add(x)
    ix.k_factor = 32
    return ix, ivf, trained, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3_000_000)
    parser.add_argument("--clusters", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--configs",
        default="8192:16:48:96,4096:16:24:48,4096:16:24:24,8192:16:48:48,4096:16:32:32",
        help="nlist:train points per list:nprobe:efSearch, comma-separated",
    )
    args = parser.parse_args()
    configs = [tuple(int(v) for v in c.split(":")) for c in args.configs.split(",")]
    x, _, _ = make_data(args.n, 64, args.clusters, sigma=0.1, labeled=0.001)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    queries = x[np.sort(rng.choice(args.n, 30_000, replace=False))]
    rows = np.sort(rng.choice(args.n, 1000, replace=False))
    _, truth = faiss.knn(x[rows], x, 11, metric=faiss.METRIC_INNER_PRODUCT)

    def recall(idx: np.ndarray) -> float:
        return float(
            np.mean(
                [
                    np.isin(t[t != r][:10], i).mean()
                    for t, r, i in zip(truth, rows, idx, strict=True)
                ]
            )
        )

    indexes = {}
    for nlist, per_list in sorted({c[:2] for c in configs}):
        ix, ivf, trained, added = build(x, nlist, per_list)
        indexes[nlist, per_list] = ix, ivf
        print(
            f"{nlist} lists, {per_list} training points each: trained in {trained:.1f} s, "
            f"{args.n} points added in {added:.1f} s",
            flush=True,
        )
    times: dict = {c: [] for c in configs}
    found = {}
    for _ in range(args.rounds):
        for c in configs:
            ix, ivf = indexes[c[:2]]
            ivf.nprobe = c[2]
            faiss.downcast_index(ivf.quantizer).hnsw.efSearch = c[3]
            if c not in found:
                found[c] = recall(ix.search(x[rows], 11)[1])
            t = time.perf_counter()
            ix.search(queries, 11)
            times[c].append((time.perf_counter() - t) / len(queries) * 1e6)
    print(
        "| lists | train / list | nprobe | efSearch | points scanned | recall@10 | µs per query (median; each round) |"
    )
    print("|---|---|---|---|---|---|---|")
    for c in configs:
        each = " / ".join(f"{v:.0f}" for v in times[c])
        print(
            f"| {c[0]} | {c[1]} | {c[2]} | {c[3]} | {c[2] * args.n // c[0]:,} | {found[c]:.4f} | "
            f"{np.median(times[c]):.0f} ({each}) |"
        )
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
