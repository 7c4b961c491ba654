"""One `propagate` call timed under two source trees in turn, so that drift of the machine's
speed (this 2-core machine drifts by up to 2× within minutes) hits both alike.

    git worktree add /tmp/base <commit>
    .venv/bin/python benchmarks/paired_trees.py --base /tmp/base/src --method diffusion \\
        --labels 100 1000 --rounds 5

Each round runs a fresh process per tree (one warm-up call, then ``--calls`` timed ones) on
Fashion-MNIST PCA-64 with a class-balanced split. Prints per tree the medians of the total,
the propagation (graph, eigenvectors, solve) and the calibration seconds, the calibration's
share of the propagation, and the accuracy on the unlabeled rows (which must agree).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CALL = r"""
import json, sys, time, warnings
sys.path.insert(0, {here!r})
from common import balanced_split, fashion_pca
from deeplabelprop import propagate
warnings.simplefilter("ignore")
x, truth = fashion_pca()
out = []
for m in {labels!r}:
    y = balanced_split(truth, m, {seed})
    propagate(x, y, {method!r})
    for _ in range({calls}):
        start = time.perf_counter()
        r = propagate(x, y, {method!r})
        total = time.perf_counter() - start
        t = r.timings
        prop = t.get("graph", 0) + t.get("eigenvectors", 0) + t.get("propagate", 0)
        acc = float((r.labels[y < 0] == truth[y < 0]).mean())
        out.append([m, total, prop, t.get("calibration", 0.0), acc])
print(json.dumps(out))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True, help="the other tree's src/ folder")
    p.add_argument("--method", default="diffusion")
    p.add_argument("--labels", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--seed", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=2)
    args = p.parse_args()
    trees = {"base": args.base, "this": str(HERE.parent / "src")}
    code = CALL.format(
        here=str(HERE), labels=args.labels, seed=args.seed, method=args.method, calls=args.calls
    )
    runs: dict = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, src in trees.items():
            done = subprocess.run(
                [sys.executable, "-c", code],
                env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name] += json.loads(done.stdout.strip().splitlines()[-1])
    for m in args.labels:
        for name in trees:
            rows = [r for r in runs[name] if r[0] == m]
            med = [statistics.median(r[i] for r in rows) for i in (1, 2, 3)]
            share = statistics.median(r[3] / r[2] for r in rows)
            print(
                f"{args.method}, {m} labels, {name}: total {med[0]:.3f} s, propagation "
                f"{med[1]:.3f} s, calibration {med[2]:.3f} s ({100 * share:.0f} % of the "
                f"propagation), accuracy {100 * rows[0][4]:.2f} % ({len(rows)} calls)"
            )


if __name__ == "__main__":
    main()
