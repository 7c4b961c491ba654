"""Episode sampling (issue 20): disjoint parts, exact counts, seeded, and every limit refused."""

import numpy as np
import pytest

from deeplabelprop.errors import InputError
from deeplabelprop.fewshot import EpisodeSpec, labeled_part, mean_and_interval, sample_episodes


@pytest.fixture
def data():
    labels = np.repeat(np.arange(8), 50)  # 8 classes of 50
    return labels, labeled_part(labels, 0.4, seed=0)


def test_labeled_part_takes_the_fraction_of_every_class(data):
    labels, labeled = data
    assert [int(labeled[labels == c].sum()) for c in range(8)] == [20] * 8
    assert np.array_equal(labeled, labeled_part(labels, 0.4, seed=0))
    assert not np.array_equal(labeled, labeled_part(labels, 0.4, seed=1))


def test_episodes_are_disjoint_exact_and_from_the_right_parts(data):
    labels, labeled = data
    novel = [2, 3, 4, 5, 6, 7]
    spec = EpisodeSpec(n_way=4, k_shot=3, n_query=5, pool_per_class=10, distractors=2)
    for ep in sample_episodes(labels, labeled, novel, spec, 40, seed=3):
        assert set(ep.classes) <= set(novel) and len(set(ep.classes)) == 4
        assert ep.shots.size == 12 and ep.queries.size == 20 and ep.pool.size == 60
        parts = [set(ep.shots), set(ep.queries), set(ep.pool)]
        assert sum(map(len, parts)) == len(set().union(*parts))  # pairwise disjoint
        assert labeled[ep.shots].all() and labeled[ep.queries].all() and not labeled[ep.pool].any()
        # labels are the episode's class order; the pool's truth marks the distractors
        assert np.array_equal(ep.classes[ep.shot_labels], labels[ep.shots])
        assert np.array_equal(ep.classes[ep.query_labels], labels[ep.queries])
        inside = ep.pool_truth >= 0
        assert np.array_equal(ep.classes[ep.pool_truth[inside]], labels[ep.pool[inside]])
        distractors = set(labels[ep.pool[~inside]])
        assert len(distractors) == 2 and not distractors & set(ep.classes)
        assert distractors <= set(novel)
        assert np.bincount(ep.shot_labels).tolist() == [3] * 4


def test_seeded_and_the_whole_pool(data):
    labels, labeled = data
    spec = EpisodeSpec(3, 1, 2, None, 0)
    a = sample_episodes(labels, labeled, [0, 1, 2, 3], spec, 5, seed=9)
    b = sample_episodes(labels, labeled, [3, 2, 1, 0], spec, 5, seed=9)
    c = sample_episodes(labels, labeled, [0, 1, 2, 3], spec, 5, seed=10)
    for x, y in zip(a, b, strict=True):
        assert all(
            np.array_equal(getattr(x, f), getattr(y, f)) for f in ("shots", "pool", "queries")
        )
    assert any(not np.array_equal(x.shots, z.shots) for x, z in zip(a, c, strict=True))
    assert a[0].pool.size == 3 * 30  # every unlabeled example of the episode's classes


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (EpisodeSpec(7, 1, 1, 5, 0), "n_way = 7 exceeds the 6 novel classes"),
        (EpisodeSpec(5, 1, 1, 5, 2), "n_way \\+ distractors = 7 exceeds"),
        (EpisodeSpec(5, 10, 11, 5, 0), "k_shot \\+ n_query = 21 exceeds the 20 labeled"),
        (EpisodeSpec(5, 1, 1, 31, 0), "pool_per_class = 31 exceeds the 30 unlabeled"),
    ],
)
def test_every_limit_is_named(data, spec, message):
    labels, labeled = data
    with pytest.raises(InputError, match=message):
        sample_episodes(labels, labeled, [2, 3, 4, 5, 6, 7], spec, 1, seed=0)


def test_the_95_percent_interval_is_its_formula():
    acc = np.array([0.5, 0.6, 0.7, 0.9])
    mean, half = mean_and_interval(acc)
    s = np.sqrt(((acc - acc.mean()) ** 2).sum() / 3)
    assert mean == pytest.approx(0.675) and half == pytest.approx(1.96 * s / 2)
