"""Given labels that look wrong (issue 25): flip a share of the given labels, each uniformly to
another class, propagate, and score the suspects against the flips.

    .venv/bin/python benchmarks/suspects.py --labels 1000 --flip 0.1 --seeds 100 101 102

Fashion-MNIST PCA-64; the out-of-fold probabilities come from the pipeline's held-out solves
(the calibration folds). Rows: ours (the calibrated held-out probability of the given class,
cleanlab's self-confidence, below 0.05), cleanlab's ``find_label_issues`` with each filter, and
the plain rule "the out-of-fold class beats the given one by a margin > 0.3". Precision and recall
of the flipped labels, mean over seeds.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from common import balanced_split, fashion_pca, machine

from deeplabelprop import propagate

FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning")


def flip(y: np.ndarray, share: float, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels with ``share`` of the given ones flipped uniformly to another class, mask)."""
    rng = np.random.default_rng([seed, 99])
    given = np.flatnonzero(y >= 0)
    chosen = rng.choice(given, int(round(share * given.size)), replace=False)
    noisy = y.copy()
    noisy[chosen] = (y[chosen] + rng.integers(1, n_classes, chosen.size)) % n_classes
    mask = np.zeros(y.size, dtype=bool)
    mask[chosen] = True
    return noisy, mask


def scores(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hit = (found & truth).sum()
    return hit / max(found.sum(), 1), hit / max(truth.sum(), 1)


def main() -> None:
    from cleanlab.filter import find_label_issues

    p = argparse.ArgumentParser()
    p.add_argument("--labels", type=int, default=1000)
    p.add_argument("--flip", type=float, default=0.1)
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    p.add_argument("--methods", nargs="+", default=["diffusion", "spectral"])
    args = p.parse_args()
    x, truth = fashion_pca(64)
    table: dict = {}
    for method in args.methods:
        for seed in args.seeds:
            y, flipped = flip(balanced_split(truth, args.labels, seed), args.flip, 10, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                r = propagate(x, y, method, random_state=seed)
                seconds = time.perf_counter() - t
            oof = r.out_of_fold
            wrong = flipped[oof.index]
            rows = {
                "ours: held-out P(given class) < 0.05 (cleanlab self_confidence)": (
                    r.label_issues().suspect[oof.index]
                ),
                "margin > 0.3": oof.margin > 0.3,
            }
            for f in FILTERS:
                rows[f"cleanlab {f}"] = find_label_issues(
                    oof.given, oof.probabilities, filter_by=f, n_jobs=1
                )
            for name, found in rows.items():
                table.setdefault((method, name), []).append(scores(found, wrong))
            print(f"{method} seed {seed}: {seconds:.1f} s", flush=True)
    print(
        f"\nmachine: {machine()}; {args.labels} labels, {args.flip:.0%} flipped, seeds {args.seeds}\n"
    )
    print("| method | rule | precision | recall |")
    print("|---|---|---|---|")
    for (method, name), vals in table.items():
        prec, rec = np.array(vals).mean(axis=0)
        print(f"| {method} | {name} | {prec:.3f} | {rec:.3f} |")


if __name__ == "__main__":
    main()
