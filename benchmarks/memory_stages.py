"""Where `propagate`'s memory peaks: resident memory at each stage of one call.

    .venv/bin/python benchmarks/memory_stages.py [--n 1000000] [--clusters 30] [--knn-cache F]

The data of ``scale.py`` (64-D, σ = 0.1, 0.1 % labeled). Each stage of
``propagate(X, y, "diffusion", exact=False)`` is wrapped to print, when it ends, the resident
memory then, the most a 2 ms sampler saw during it and ``ru_maxrss`` so far (which also
catches what the sampler misses). ``--knn-cache F`` keeps the kNN search's result in F (an
.npz) and reuses it on the next run, so the stages after the search can be profiled in
seconds at millions of points (the search itself is profiled by the first run).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import os
import resource
import threading
import time

import numpy as np
from common import machine
from scale import make_data


def rss_gb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def max_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class Monitor:
    """A 2 ms sampler of the resident memory, and a line per event."""

    def __init__(self) -> None:
        self.start, self.most, self.running = time.perf_counter(), 0.0, True
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while self.running:
            self.most = max(self.most, rss_gb())
            time.sleep(0.002)

    def mark(self, what: str) -> None:
        now = rss_gb()
        print(
            f"{time.perf_counter() - self.start:8.1f} s | {now:6.2f} GB now | "
            f"{max(self.most, now):6.2f} GB most since the last line | "
            f"ru_maxrss {max_rss_gb():6.2f} GB | {what}",
            flush=True,
        )
        self.most = now


def wrap(module, name: str, monitor: Monitor) -> None:
    inner = getattr(module, name)

    @functools.wraps(inner)
    def marked(*args, **kwargs):
        monitor.mark(f"enter {name}")
        out = inner(*args, **kwargs)
        monitor.mark(f"exit {name}")
        return out

    setattr(module, name, marked)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=30)
    parser.add_argument("--knn-cache", help="an .npz to keep the kNN result in and reuse")
    args = parser.parse_args()
    x, _, y = make_data(args.n, 64, args.clusters, sigma=0.1, labeled=0.001)
    monitor = Monitor()

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            monitor.mark(f"{record.name}: {record.getMessage()[:90]}")

    logging.getLogger("deeplabelprop").addHandler(Lines())
    logging.getLogger("deeplabelprop").setLevel(logging.INFO)
    build = importlib.import_module("deeplabelprop.graph.build")
    operator = importlib.import_module("deeplabelprop.graph.operator")
    pipeline = importlib.import_module("deeplabelprop.propagation.pipeline")
    diffusion = importlib.import_module("deeplabelprop.propagation.diffusion")
    if args.knn_cache:
        search = build.search_checked

        def cached(x, k, **kwargs):
            if os.path.exists(args.knn_cache):
                kept = np.load(args.knn_cache)
                return kept["sims"], kept["idx"], float(kept["recall"])
            sims, idx, recall = search(x, k, **kwargs)
            np.savez(args.knn_cache, sims=sims, idx=idx, recall=recall)
            return sims, idx, recall

        build.search_checked = cached
    for name in (
        "search_checked",
        "edge_weights",
        "adjacency",
        "symmetrize",
        "normalize_symmetric",
    ):
        wrap(build, name, monitor)
    for name in ("locality_order", "renumbered"):
        wrap(operator, name, monitor)
    for name in ("check_inputs", "out_of_fold", "fit_map", "estimate_accuracy"):
        wrap(pipeline, name, monitor)
    wrap(diffusion, "diffuse", monitor)
    from deeplabelprop import propagate

    monitor.mark(f"data: {x.shape}, {int((y >= 0).sum())} labeled")
    result = propagate(x, y, "diffusion", exact=False)
    monitor.mark("returned")
    monitor.running = False
    print(f"timings: {result.timings}; peak (ru_maxrss) {max_rss_gb():.2f} GB")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
