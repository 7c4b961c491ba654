"""Held-out solves of diffusion in narrow column blocks or one wide block, paired (issue 27
item 2): the same `propagate(x, y, "diffusion")` call alternating between the two block widths
on one machine, so that drift of the machine's speed hits both alike.

    .venv/bin/python benchmarks/fold_blocks.py --labels 100 1000 --reps 4

Prints, per label count and width, the (total, calibration) seconds of each repetition.
"""

from __future__ import annotations

import argparse
import time
import warnings

from common import balanced_split, fashion_pca

import deeplabelprop.propagation.diffusion as diffusion
from deeplabelprop import propagate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--labels", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--seed", type=int, default=100)
    p.add_argument("--reps", type=int, default=4)
    p.add_argument("--widths", type=int, nargs="+", default=[diffusion.FOLD_CPU_COLUMNS, 10**9])
    args = p.parse_args()
    x, truth = fashion_pca()
    warnings.simplefilter("ignore")
    for m in args.labels:
        y = balanced_split(truth, m, args.seed)
        propagate(x, y, "diffusion")  # warm up
        seconds: dict = {w: [] for w in args.widths}
        for _ in range(args.reps):
            for width in args.widths:
                diffusion.FOLD_CPU_COLUMNS = width
                t = time.perf_counter()
                result = propagate(x, y, "diffusion")
                total = time.perf_counter() - t
                seconds[width].append((round(total, 2), round(result.timings["calibration"], 2)))
        for width, runs in seconds.items():
            print(f"{m} labels, blocks of ≤ {width} columns: (total s, calibration s) {runs}")


if __name__ == "__main__":
    main()
