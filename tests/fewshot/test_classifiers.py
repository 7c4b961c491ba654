"""Each row of Table 7 against a brute-force computation on a tiny episode (issue 20)."""

import warnings

import numpy as np
import pytest

from deeplabelprop import propagate
from deeplabelprop.errors import DataWarning
from deeplabelprop.fewshot import (
    EpisodeSpec,
    evaluate,
    labeled_part,
    nearest_neighbour,
    propagation,
    prototypes,
    rows,
    sample_episodes,
    soft_kmeans,
)


@pytest.fixture
def episode():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 30)
    features = rng.normal(size=(120, 5)) + 2.0 * np.eye(5)[labels]
    labeled = labeled_part(labels, 0.5, 0)
    ep = sample_episodes(labels, labeled, [0, 1, 2, 3], EpisodeSpec(3, 2, 4, 6, 1), 1, 0)[0]
    return features, ep


def test_nearest_neighbour_is_the_most_similar_shot(episode):
    f, ep = episode
    expected = []
    for q in ep.queries:
        cos = [f[q] @ f[s] / np.linalg.norm(f[q]) / np.linalg.norm(f[s]) for s in ep.shots]
        expected.append(ep.shot_labels[int(np.argmax(cos))])
    assert np.array_equal(nearest_neighbour(f, ep), expected)


def test_prototypes_are_the_nearest_class_mean(episode):
    f, ep = episode
    means = [f[ep.shots[ep.shot_labels == c]].mean(0) for c in range(3)]
    expected = [int(np.argmin([((f[q] - m) ** 2).sum() for m in means])) for q in ep.queries]
    assert np.array_equal(prototypes(f, ep), expected)


def test_soft_kmeans_is_ren_et_als_refinement(episode):
    f, ep = episode
    tau = 0.7
    p = [f[ep.shots[ep.shot_labels == c]].mean(0) for c in range(3)]
    refined = []
    for c in range(3):
        num, den = np.zeros(5), 0.0
        for s, y in zip(ep.shots, ep.shot_labels, strict=True):
            num, den = (num + f[s], den + 1) if y == c else (num, den)
        for j in ep.pool:
            w = [np.exp(-((f[j] - p[d]) ** 2).sum() / tau) for d in range(3)]
            num, den = num + w[c] / sum(w) * f[j], den + w[c] / sum(w)
        refined.append(num / den)
    expected = [int(np.argmin([((f[q] - m) ** 2).sum() for m in refined])) for q in ep.queries]
    assert np.array_equal(soft_kmeans(f, ep, tau), expected)


def test_propagation_is_the_method_over_shots_pool_and_queries(episode):
    f, ep = episode
    stacked = np.concatenate([f[ep.shots], f[ep.pool], f[ep.queries]])
    y = np.r_[ep.shot_labels, np.full(ep.pool.size + ep.queries.size, -1)]
    result = propagate(stacked, y, "diffusion", 3, calibration="none", n_neighbors=5)
    got = propagation("diffusion", n_neighbors=5)(f, ep)
    assert np.array_equal(got, result.labels[-ep.queries.size :])


def test_evaluate_scores_every_row_and_counts_warnings(episode):
    f, ep = episode
    table = rows({"diffusion": {"n_neighbors": 5}})
    acc, seconds, warned = evaluate(f, [ep, ep], table)
    assert acc.shape == (4, 2) and (seconds >= 0).all()
    assert acc[1, 0] == np.mean(prototypes(f, ep) == ep.query_labels)

    def always_warns(features, e):
        warnings.warn("a class receives no pseudo label", DataWarning, stacklevel=1)
        return e.query_labels

    acc, _, warned = evaluate(f, [ep, ep, ep], {"warns": always_warns})
    assert warned.tolist() == [3] and acc.tolist() == [[1.0, 1.0, 1.0]]
