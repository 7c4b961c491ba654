"""Propagation across processes (issue 28 item 4): correctness and communicated bytes, not speed
(every process shares this machine's cores).

    .venv/bin/python benchmarks/sharded.py --points 200000 --processes 1 2 4 --out sharded.json

For each process count it runs ``Pipeline(METHOD).run(..., across_processes=True)`` under torchrun on
the same data (``--classes`` Gaussian clusters in ``--dims`` dimensions, ``--labels`` random
labels; ``--order clustered`` sorts the rows by cluster first, as rows sorted by an IVF list
would be) and reports: the agreement of the pseudo labels with one process's, the accuracy,
the bytes process 0 sent per stage (the search's query and result exchanges and the edges of
Aᵀ; one CG product's halo exchange; the whole run), the halo rows per process, and the
single-process costs per row that the 100 M × 768 calculation in RESULTS.md uses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def data(n: int, d: int, clusters: int, n_labels: int, order: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, clusters, n)
    if order == "clustered":
        truth = np.sort(truth)
    centers = rng.normal(size=(clusters, d))
    x = (centers[truth] + 0.8 * rng.normal(size=(n, d))).astype(np.float32)
    y = np.full(n, -1)
    labeled = rng.choice(n, n_labels, replace=False)
    y[labeled] = truth[labeled]
    return x, y, truth


def worker(args) -> None:
    """One process of a torchrun job: writes process 0's measurements to ``args.out``."""
    import torch

    from deeplabelprop import distributed
    from deeplabelprop.graph import l2_normalize
    from deeplabelprop.graph.sharded import sharded_knn_graph
    from deeplabelprop.propagation import Pipeline

    distributed.init_from_env()
    x, y, truth = data(args.points, args.dims, args.classes, args.labels, args.order)
    rows = distributed.shard(args.points)
    sent = distributed.SENT
    t0, b0 = time.perf_counter(), sent["bytes"]
    settings = Pipeline(args.method).build(args.points)
    graph = sharded_knn_graph(
        l2_normalize(x[rows]),
        args.points,
        settings.n_neighbors,
        kernel=settings.kernel,
        gamma=settings.gamma,
        tau=getattr(settings, "tau", 0.1),
    )
    graph_seconds, graph_bytes = time.perf_counter() - t0, sent["bytes"] - b0
    b1 = sent["bytes"]
    graph.with_halo(torch.zeros((rows.stop - rows.start, args.classes), dtype=torch.float64))
    product_bytes = sent["bytes"] - b1
    halo = int(distributed.sum_of(torch.tensor([len(graph.halo)])).item())
    b2, t2 = sent["bytes"], time.perf_counter()
    result = Pipeline(args.method).run(x, y, seed=0, across_processes=True)
    run_seconds, run_bytes = time.perf_counter() - t2, sent["bytes"] - b2
    if distributed.is_main():
        unl = y < 0
        np.save(args.out.with_suffix(".labels.npy"), result.labels)
        report = {
            "processes": distributed.world_size(),
            "accuracy": float((result.labels == truth)[unl].mean()),
            "estimated_accuracy": result.estimated_accuracy.value,
            "knn_recall": graph.knn_recall,
            "edges": graph.edges,
            "halo_rows_mean": halo / distributed.world_size(),
            "rows_per_process": rows.stop - rows.start,
            "graph_seconds": graph_seconds,
            "bytes_search_and_graph": graph_bytes,
            "bytes_per_cg_product": product_bytes,
            "bytes_run": run_bytes,
            "cg_iterations": result.n_iter,
            "run_seconds": run_seconds,
            "timings": result.timings,
        }
        args.out.write_text(json.dumps(report, indent=1))
    distributed.shutdown()


def per_row_costs(args) -> dict:
    """Single-process costs the calculation scales: exact search per (query, base row), one
    CG product per (edge, column)."""
    import faiss
    import torch

    from deeplabelprop.graph import knn_graph, l2_normalize
    from deeplabelprop.graph.operator import sparse_operator
    from deeplabelprop.propagation.cg import ShiftedOperator

    x, _, _ = data(args.points, args.dims, args.classes, args.labels, args.order)
    x = l2_normalize(x)
    q = x[:2000]
    t = time.perf_counter()
    faiss.knn(q, x, 11, metric=faiss.METRIC_INNER_PRODUCT)
    search = (time.perf_counter() - t) / (len(q) * len(x))
    g = knn_graph(x, 10)
    op = ShiftedOperator(sparse_operator(g.normalized, "cpu"), 0.99)
    v = torch.ones((len(x), args.classes), dtype=torch.float64)
    op(v)
    t = time.perf_counter()
    for _ in range(10):
        op(v)
    product = (time.perf_counter() - t) / 10 / (g.normalized.nnz * args.classes)
    return {
        "exact_search_seconds_per_query_base_pair": search,
        "d": args.dims,
        "cg_product_seconds_per_edge_column": product,
        "nnz_per_row": g.normalized.nnz / len(x),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=200_000)
    p.add_argument("--dims", type=int, default=16)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--labels", type=int, default=100)
    p.add_argument("--order", choices=("random", "clustered"), default="random")
    p.add_argument("--method", choices=("diffusion", "spectral"), default="diffusion")
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    torchrun = Path(sys.executable).with_name("torchrun")
    reports, first = [], None
    for w in args.processes:
        part = args.out.with_suffix(f".{w}.json")
        command = [str(torchrun), "--standalone", f"--nproc_per_node={w}", __file__, "--worker"]
        command += [
            f"--{k}={getattr(args, k)}"
            for k in ("points", "dims", "classes", "labels", "order", "method")
        ]
        subprocess.run([*command, f"--out={part}"], check=True, env={**os.environ})
        report = json.loads(part.read_text())
        labels = np.load(part.with_suffix(".labels.npy"))
        first = labels if first is None else first
        report["agreement_with_first"] = float((labels == first).mean())
        reports.append(report)
        print(json.dumps(report))
    out = {"args": {k: v for k, v in vars(args).items() if k != "out"} | {"out": str(args.out)}}
    out["runs"] = reports
    out["per_row"] = per_row_costs(args)
    print(json.dumps(out["per_row"]))
    args.out.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
