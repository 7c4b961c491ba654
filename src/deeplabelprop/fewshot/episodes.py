"""Few-shot episodes with unlabeled data (DMT §4.3; Ren et al. 2018's semi-supervised setting).

Every class of the novel set is split once (seeded) into a *labeled* part and an *unlabeled*
part (DMT: 40 % / 60 %). An N-way K-shot episode draws N novel classes; its K shots per class
and its queries come from those classes' labeled parts (disjoint), and its unlabeled pool from
the unlabeled parts of the N classes and of ``distractors`` other novel classes (classes outside
the episode, as in Ren et al.). Everything is drawn by one seeded generator, so the same seed
gives the same episodes, whatever is evaluated on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class EpisodeSpec:
    """``n_way`` classes, ``k_shot`` labeled examples and ``n_query`` queries per class; a pool
    of ``pool_per_class`` unlabeled examples from each episode class and each of ``distractors``
    other novel classes (``pool_per_class=None``: every unlabeled example of those classes)."""

    n_way: int = 5
    k_shot: int = 1
    n_query: int = 15
    pool_per_class: int | None = 100
    distractors: int = 1


@dataclass(frozen=True)
class Episode:
    """Rows into the features, and labels in 0..n_way-1 (the order of ``classes``).

    ``pool_truth`` is the episode label of each pool row, -1 for a distractor (for reports;
    never seen by a classifier)."""

    classes: np.ndarray
    shots: np.ndarray
    shot_labels: np.ndarray
    pool: np.ndarray
    pool_truth: np.ndarray
    queries: np.ndarray
    query_labels: np.ndarray


def labeled_part(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask: a seeded ``fraction`` of each class's rows (rounded, at least one)."""
    if not 0 < fraction < 1:
        raise InputError(f"labeled_fraction must lie in (0, 1), got {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, 20])
    mask = np.zeros(labels.size, dtype=bool)
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        mask[rows[: max(1, int(round(fraction * rows.size)))]] = True
    return mask


def check_spec(spec: EpisodeSpec, labels: np.ndarray, labeled: np.ndarray, novel) -> None:
    """Every limit of the spec against the data: a one-line error naming the setting."""
    novel = np.asarray(novel)
    if spec.n_way < 2 or spec.k_shot < 1 or spec.n_query < 1 or spec.distractors < 0:
        raise InputError("episodes need n_way >= 2, k_shot >= 1, n_query >= 1, distractors >= 0")
    if spec.n_way > novel.size:
        raise InputError(f"n_way = {spec.n_way} exceeds the {novel.size} novel classes")
    if spec.n_way + spec.distractors > novel.size:
        raise InputError(
            f"n_way + distractors = {spec.n_way + spec.distractors} exceeds the {novel.size} "
            f"novel classes; lower distractors to at most {novel.size - spec.n_way}"
        )
    for c in novel:
        have = int((labeled & (labels == c)).sum())
        if spec.k_shot + spec.n_query > have:
            raise InputError(
                f"k_shot + n_query = {spec.k_shot + spec.n_query} exceeds the {have} labeled "
                f"examples of novel class {c}; lower them, or raise labeled_fraction"
            )
        pool = int((~labeled & (labels == c)).sum())
        if spec.pool_per_class is not None and spec.pool_per_class > pool:
            raise InputError(
                f"pool_per_class = {spec.pool_per_class} exceeds the {pool} unlabeled examples "
                f"of novel class {c}; lower it"
            )


def sample_episodes(
    labels: np.ndarray,
    labeled: np.ndarray,
    novel,
    spec: EpisodeSpec,
    n_episodes: int,
    seed: int,
) -> list[Episode]:
    """``n_episodes`` episodes over the rows whose label is in ``novel`` (see the module)."""
    labels, labeled = np.asarray(labels), np.asarray(labeled, dtype=bool)
    novel = np.asarray(sorted(set(int(c) for c in novel)))
    check_spec(spec, labels, labeled, novel)
    by_class = {
        int(c): (np.flatnonzero(labeled & (labels == c)), np.flatnonzero(~labeled & (labels == c)))
        for c in novel
    }
    rng = np.random.default_rng([seed, 13])
    episodes = []
    for _ in range(n_episodes):
        picked = rng.permutation(novel)[: spec.n_way + spec.distractors]
        classes = picked[: spec.n_way]  # the rest are the distractors
        shots, queries, pool, pool_truth = [], [], [], []
        for e, c in enumerate(picked):
            lab, unl = by_class[int(c)]
            take = (
                unl
                if spec.pool_per_class is None
                else rng.choice(unl, spec.pool_per_class, replace=False)
            )
            pool.append(np.sort(take))
            pool_truth.append(np.full(take.size, e if e < spec.n_way else -1))
            if e < spec.n_way:
                drawn = rng.choice(lab, spec.k_shot + spec.n_query, replace=False)
                shots.append(drawn[: spec.k_shot])
                queries.append(drawn[spec.k_shot :])
        way = np.arange(spec.n_way)
        episodes.append(
            Episode(
                classes=classes,
                shots=np.concatenate(shots),
                shot_labels=np.repeat(way, spec.k_shot),
                pool=np.concatenate(pool),
                pool_truth=np.concatenate(pool_truth),
                queries=np.concatenate(queries),
                query_labels=np.repeat(way, spec.n_query),
            )
        )
    return episodes


def mean_and_interval(accuracies: np.ndarray) -> tuple[float, float]:
    """(mean, half-width of the 95 % confidence interval: 1.96 · s / √n, s the sample standard
    deviation over episodes), as the few-shot papers report it."""
    a = np.asarray(accuracies, dtype=np.float64)
    if a.size < 2:
        return float(a.mean()), float("nan")
    return float(a.mean()), float(1.96 * a.std(ddof=1) / np.sqrt(a.size))
