"""Which images to label (issue 25): ``suggest`` against random picks and TypiClust, on
Fashion-MNIST PCA-64 (or features from a file), accuracy of the pseudo labels on the unlabeled
rows after each round.

    .venv/bin/python benchmarks/suggest.py --seeds 100 101 102

Budgets: cold starts of 10, 20 and 40 labels, then +20 per round to 100 (each strategy picks
its own rounds from its own labels). Strategies: random uniform; random class-balanced (a
reference a user cannot draw: it needs the truth); TypiClust (Hacohen et al. 2022, as the
paper: Euclidean k-means with |L| + B clusters on the features, typicality within the
cluster, K = 20, the B largest uncovered clusters); ours (``deeplabelprop.selection.suggest``:
k-means on the features seeded by greedy k-means++ and run by faiss, typicality within each
cluster in the graph's cosine geometry, uncertainty past 5 labels per class).
Propagation: ``propagate`` at its defaults (diffusion, calibrated), or ``--method``.
``--schedule loop``: the labeling loop's budgets instead (a cold start of 20, then rounds of
+20 to 100, as ``benchmarks/loop.py`` runs them).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from common import fashion_pca, machine
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

from deeplabelprop import propagate
from deeplabelprop.graph import l2_normalize
from deeplabelprop.selection import suggest


def typiclust(x: np.ndarray, labeled: np.ndarray, budget: int, seed: int) -> list[int]:
    """TypiClust's selection, written from the paper (Algorithm 1, typicality eq. 2)."""
    k = int(labeled.size) + budget
    clusters = KMeans(k, n_init=1, random_state=seed).fit_predict(x)
    covered = set(clusters[labeled].tolist())
    sizes = np.bincount(clusters, minlength=k)
    picks = []
    for c in sorted((c for c in range(k) if c not in covered), key=lambda c: -sizes[c]):
        members = np.flatnonzero(clusters == c)
        members = members[~np.isin(members, labeled)]
        if members.size == 0:
            continue
        nn = min(20, members.size - 1)
        if nn < 1:
            picks.append(int(members[0]))
        else:
            dist, _ = NearestNeighbors(n_neighbors=nn + 1).fit(x[members]).kneighbors(x[members])
            picks.append(int(members[np.argmax(1.0 / np.maximum(dist[:, 1:].mean(1), 1e-12))]))
        if len(picks) == budget:
            break
    return picks


def encode(truth, chosen) -> tuple[np.ndarray, np.ndarray]:
    """(labels numbered over the classes labeled so far, those classes): a person names only
    the classes they have labeled; a class without a label yet counts as errors."""
    present = np.unique(truth[chosen])
    y = np.full(truth.size, -1)
    y[chosen] = np.searchsorted(present, truth[chosen])
    return y, present


def accuracy(x, truth, chosen, method: str = "diffusion") -> tuple[float, object]:
    y, present = encode(truth, chosen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = propagate(x, y, method)
    unl = y < 0
    return float(np.mean(present[r.labels[unl]] == truth[unl])), r


def pick(strategy, x, unit, truth, chosen, budget, result, rng, seed):
    chosen = np.asarray(chosen, dtype=np.int64)
    rest = np.setdiff1d(np.arange(truth.size), chosen)
    if strategy == "random uniform":
        return rng.choice(rest, budget, replace=False).tolist()
    if strategy == "random class-balanced (needs the truth)":
        out = []
        for j in range(budget):
            c = (chosen.size + j) % 10
            pool = np.setdiff1d(rest[truth[rest] == c], out)
            out.append(int(rng.choice(pool)))
        return out
    if strategy == "TypiClust (anchor)":
        return typiclust(x, chosen, budget, seed)
    y, _ = encode(truth, chosen) if chosen.size else (np.full(truth.size, -1), None)
    return suggest(x, y, budget, result=result, seed=seed).index[-budget:].tolist()


STRATEGIES = (
    "random uniform",
    "random class-balanced (needs the truth)",
    "TypiClust (anchor)",
    "ours (suggest)",
)
SCHEDULES = {
    "budgets": [
        ("cold", 10),
        ("cold", 20),
        ("cold", 40),
        ("round", 60),
        ("round", 80),
        ("round", 100),
    ],
    "loop": [("cold", 20), ("round", 40), ("round", 60), ("round", 80), ("round", 100)],
}


def folder_features(path: str) -> np.ndarray:
    """The rows of a features.npz written for the Fashion-MNIST folder, in the order of the
    training set (each file is named ``fashion_folder.opaque("train", i)``)."""
    from fashion_folder import opaque

    with np.load(path, allow_pickle=False) as z:
        where = {p: k for k, p in enumerate(z["paths"].tolist())}
        order = [where[f"unlabeled/{opaque('train', i)}"] for i in range(len(where))]
        return z["features"][order].astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    p.add_argument("--features", help="an (n, d) .npy instead of PCA-64 of the pixels")
    p.add_argument(
        "--folder-features",
        help="features.npz of `pretrain` or `embed` on benchmarks/fashion_folder.py's folder "
        "(rows by path, put back in the data set's order)",
    )
    p.add_argument("--method", default="diffusion", help="the propagation method")
    p.add_argument("--schedule", choices=sorted(SCHEDULES), default="budgets")
    p.add_argument(
        "--strategies",
        nargs="+",
        type=int,
        default=list(range(len(STRATEGIES))),
        help="which rows to run, by number: "
        + ", ".join(f"{i} {s}" for i, s in enumerate(STRATEGIES)),
    )
    args = p.parse_args()
    strategies = [STRATEGIES[i] for i in args.strategies]
    schedule = SCHEDULES[args.schedule]
    x, truth = fashion_pca(64)
    if args.features:
        x = np.load(args.features).astype(np.float32)
    if args.folder_features:
        x = folder_features(args.folder_features)
    unit = l2_normalize(x)
    table: dict = {}
    for seed in args.seeds:
        for strategy in strategies:
            rng = np.random.default_rng(seed)
            chosen: list[int] = []
            result = None
            t = time.perf_counter()
            for kind, size in schedule:
                if kind == "cold":
                    chosen, result = [], None
                new = pick(strategy, x, unit, truth, chosen, size - len(chosen), result, rng, seed)
                chosen = chosen + new
                acc, result = accuracy(x, truth, chosen, args.method)
                table.setdefault((strategy, f"{kind} {size}"), []).append(acc)
            got = " ".join(f"{100 * table[(strategy, f'{k} {b}')][-1]:.1f}" for k, b in schedule)
            print(f"seed {seed} {strategy}: {got} ({time.perf_counter() - t:.0f} s)", flush=True)
    print(f"\nmachine: {machine()}; seeds {args.seeds}; {args.method}\n")
    cols = [f"{k} {s}" for k, s in schedule]
    print(
        "| strategy | "
        + " | ".join(c.replace("cold", "cold start").replace("round", "round to") for c in cols)
        + " |"
    )
    print("|---|" + "---|" * len(cols))
    for strategy in strategies:
        cells = [
            f"{100 * np.mean(table[(strategy, c)]):.1f} ± {100 * np.std(table[(strategy, c)]):.1f}"
            for c in cols
        ]
        print(f"| {strategy} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
