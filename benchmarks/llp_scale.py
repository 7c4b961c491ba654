"""LLP's propagation at scale: a synthetic memory bank of N = 1,000,000 × 128 with M = 10,000
labeled rows. Density ρ of the labeled rows (LLP eq. 7, T = 25) and the density-weighted votes of
every row (eq. 8, K = 10), in blocks against the labeled rows only: O(N · M), never N × N.

    .venv/bin/python benchmarks/llp_scale.py [--n 1000000] [--m 10000]

Reports the time of each step, the peak resident memory, and the accuracy of the votes on the
synthetic classes (a sanity check that the blocks compute the right thing at this size).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from common import machine
from scale import make_data

from deeplabelprop.graph import l2_normalize
from deeplabelprop.propagation.local import labeled_log_density, local_votes


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--m", type=int, default=10_000)
    args = p.parse_args()
    t = time.perf_counter()
    x, truth, _ = make_data(args.n)
    rng = np.random.default_rng(1)
    labeled = np.sort(rng.choice(args.n, args.m, replace=False))
    bank = torch.from_numpy(l2_normalize(x))
    del x
    print(
        f"bank {tuple(bank.shape)} float32, {args.m} labeled rows, made in {time.perf_counter() - t:.1f} s"
    )
    lab = torch.from_numpy(labeled)
    t = time.perf_counter()
    log_rho = labeled_log_density(bank, lab, tau=0.07, n_density=25)
    t_density = time.perf_counter() - t
    t = time.perf_counter()
    p_votes = local_votes(
        bank, lab, torch.from_numpy(truth[labeled]), log_rho, 10, tau=0.07, n_voters=10
    )
    t_votes = time.perf_counter() - t
    pred = p_votes.argmax(1).numpy()
    unl = np.ones(args.n, bool)
    unl[labeled] = False
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(
        f"density (eq. 7): {t_density:.1f} s; votes (eq. 8): {t_votes:.1f} s; total {t_density + t_votes:.1f} s"
    )
    print(
        f"accuracy of the votes on unlabeled rows: {100 * np.mean(pred[unl] == truth[unl]):.2f} %"
    )
    print(
        f"peak resident memory: {peak:.2f} GB (an N × N float32 matrix would be {4 * args.n**2 / 1e12:.1f} TB)"
    )
    print(f"torch threads: {torch.get_num_threads()}; machine: {machine()}")


if __name__ == "__main__":
    main()
