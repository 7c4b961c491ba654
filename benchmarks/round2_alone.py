"""Round 2 alone at 10 M points (issue 28 item 1): a fresh process, the graph kept by
``scale.py --n 10000000 --d 64 --clusters 300 --sigma 0.1 --labeled 0.001 --k 0 --graph PATH``,
as many new labels again; prints the time, the stages and the peak RSS.

    cd benchmarks && python round2_alone.py /tmp/g10m.npz

Run it under two source trees (``PYTHONPATH=/tmp/base/src``) to compare them on one graph.
"""

from __future__ import annotations

import resource
import sys
import time
import warnings

import numpy as np
from scale import make_data

from deeplabelprop import propagate


def main() -> None:
    warnings.simplefilter("ignore")
    x, truth, y = make_data(10_000_000, d=64, n_clusters=300, sigma=0.1, labeled=0.001)
    rng = np.random.default_rng(1)
    y2 = y.copy()
    for c in range(10):
        pool = np.flatnonzero((truth == c) & (y2 < 0))
        y2[rng.choice(pool, int((y == c).sum()), replace=False)] = c
    start = time.perf_counter()
    r = propagate(x, y2, "diffusion", exact=False, graph=sys.argv[1])
    seconds = time.perf_counter() - start
    stages = {k: round(v, 1) for k, v in r.timings.items()}
    accuracy = (r.labels[y2 < 0] == truth[y2 < 0]).mean()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"round 2 alone: {seconds:.1f} s, stages {stages}, accuracy {accuracy:.4f}, peak {peak:.2f} GB"
    )


if __name__ == "__main__":
    main()
