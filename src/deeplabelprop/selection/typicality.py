"""Typicality and coverage: TypiClust's selection (Hacohen, Dekel & Weinshall, ICML 2022).

Typicality of x is the inverse mean distance to its K = 20 nearest neighbours within its
cluster (their eq. 2): a point at the heart of a dense cluster represents many others.
Coverage: the embedding is cut into as many k-means clusters as there will be labels (the ones
given plus the budget), and each cluster that holds no labeled point gets its most typical
point, largest clusters first, so that the labels spread over the data like the data does.

Measured on Fashion-MNIST (benchmarks/RESULTS.md), the clustering and the cluster-wise
typicality matter together: k-means seeded by greedy k-means++ and run on every point, with
typicality within each cluster, took a cold start of 10 labels on a learned metric from 61.7 %
to 69.1 % (6 tuning splits), where faiss's randomly seeded k-means on a subsample with
typicality over all rows had stopped; either change alone did not.
"""

from __future__ import annotations

import numpy as np

from ..graph import knn

TYPICALITY_NEIGHBORS = 20  # TypiClust's K
MIN_CLUSTER = 5  # TypiClust skips clusters of fewer points
# Lloyd iterations from the k-means++ seeds, all of them: 20 left some runs unsettled, and
# stopping once an iteration lowered the inertia by less than 1e-4 of it (14-23 iterations)
# cost 4.9 points at a cold start of 10 labels on a learned metric (benchmarks/RESULTS.md)
KMEANS_ITERATIONS = 100
KMEANS_SAMPLE = 100_000  # points the seeding and the iterations run on (all of them below this)


def typicality(
    x: np.ndarray, *, n_neighbors: int = TYPICALITY_NEIGHBORS, seed: int = 0
) -> np.ndarray:
    """1 / mean distance to the ``n_neighbors`` nearest other rows, for unit rows ``x`` (n, d)
    (Euclidean distance from the inner products: ‖a - b‖ = √(2 - 2 aᵀb))."""
    k = min(n_neighbors, x.shape[0] - 1)
    sims, _ = knn(x, k, random_state=seed)
    distances = np.sqrt(np.clip(2.0 - 2.0 * sims.astype(np.float64), 0.0, None))
    return 1.0 / np.maximum(distances.mean(axis=1), 1e-12)


def cluster_typicality(x: np.ndarray, clusters: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """:func:`typicality` of each unit row of ``x`` among the rows of its own cluster (a
    cluster of one row: 0)."""
    out = np.zeros(x.shape[0])
    order = np.argsort(clusters, kind="stable")
    bounds = np.flatnonzero(np.diff(clusters[order])) + 1
    for members in np.split(order, bounds):
        if members.size > 1:
            out[members] = typicality(x[members], seed=seed)
    return out


def kmeans_clusters(x: np.ndarray, n_clusters: int, *, seed: int = 0) -> np.ndarray:
    """The k-means cluster of every row of the features as given (Euclidean, as TypiClust: on
    Fashion-MNIST PCA-64 it covered better than spherical k-means on unit rows). Seeded by
    greedy k-means++ (Arthur & Vassilvitskii 2007; scikit-learn's ``kmeans_plusplus``, as
    TypiClust's k-means), then ``KMEANS_ITERATIONS`` Lloyd iterations by faiss, on every row
    up to ``KMEANS_SAMPLE`` rows (a random sample of that many beyond). One run, as TypiClust's:
    the run of least inertia out of 3 covered 6 well-separated clusters more often (11 of 12
    draws against 9; the earlier faiss k-means: 6), but on Fashion-MNIST PCA-64 it cost 4.4
    points at 10 labels (benchmarks/RESULTS.md)."""
    import faiss
    from sklearn.cluster import kmeans_plusplus

    points = np.ascontiguousarray(x, dtype=np.float32)
    n_clusters = min(n_clusters, points.shape[0])
    train = points
    if points.shape[0] > KMEANS_SAMPLE:
        rng = np.random.default_rng(seed)
        train = points[np.sort(rng.choice(points.shape[0], KMEANS_SAMPLE, replace=False))]
    seeds, _ = kmeans_plusplus(train, n_clusters, random_state=seed)
    km = faiss.Kmeans(  # few points per centroid is the point here (one per label): no warning
        points.shape[1],
        n_clusters,
        niter=KMEANS_ITERATIONS,
        seed=seed,
        min_points_per_centroid=1,
        max_points_per_centroid=train.shape[0],  # every training row, not faiss's subsample
    )
    km.train(train, init_centroids=np.ascontiguousarray(seeds, dtype=np.float32))
    _, assign = km.index.search(points, 1)
    return assign[:, 0].astype(np.int64)


def cover_clusters(
    clusters: np.ndarray, labeled: np.ndarray, score: np.ndarray, n: int, candidates: np.ndarray
) -> list[int]:
    """Up to ``n`` rows: from each cluster without a labeled point (largest first; clusters of
    fewer than ``MIN_CLUSTER`` points last), the candidate of highest ``score``."""
    covered = set(clusters[labeled].tolist())
    sizes = np.bincount(clusters)
    order = sorted(
        (c for c in range(sizes.size) if c not in covered and sizes[c] > 0),
        key=lambda c: (sizes[c] < MIN_CLUSTER, -sizes[c]),
    )
    pool = np.zeros(clusters.size, dtype=bool)
    pool[candidates] = True
    picks = []
    for c in order:
        members = np.flatnonzero((clusters == c) & pool)
        if members.size:
            picks.append(int(members[np.argmax(score[members])]))
        if len(picks) == n:
            break
    return picks
