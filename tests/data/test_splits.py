"""Seeded splits: balance, determinism, persistence and the checksum guard (issue 3)."""

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.data import load_split, make_split, save_split

LABELS = np.repeat(np.arange(10), 50)


def test_balanced_disjoint_and_deterministic():
    s = make_split(LABELS, 100, seed=3, n_validation=50)
    assert np.bincount(LABELS[s.labeled]).tolist() == [10] * 10
    assert np.bincount(LABELS[s.validation]).tolist() == [5] * 10
    all_idx = np.concatenate([s.labeled, s.unlabeled, s.validation])
    assert np.array_equal(np.sort(all_idx), np.arange(500))  # disjoint and covering
    again = make_split(LABELS, 100, seed=3, n_validation=50)
    assert np.array_equal(again.labeled, s.labeled) and np.array_equal(
        again.validation, s.validation
    )
    assert not np.array_equal(make_split(LABELS, 100, seed=4).labeled, s.labeled)
    masked = s.masked_labels(LABELS)
    assert (masked >= 0).sum() == 100 and (masked[s.labeled] == LABELS[s.labeled]).all()


def test_uneven_counts_and_global_sampling():
    s = make_split(LABELS, 13, seed=0)
    counts = np.bincount(LABELS[s.labeled], minlength=10)
    assert counts.sum() == 13 and counts.max() - counts.min() <= 1
    g = make_split(LABELS, 37, seed=0, per_class=False)
    assert g.labeled.size == 37


def test_split_errors():
    with pytest.raises(InputError, match="smaller than the number of classes"):
        make_split(LABELS, 5, seed=0)
    skewed = np.r_[np.zeros(5, int), np.ones(100, int)]
    with pytest.raises(
        InputError, match="class 0 has 5 examples but the split asks for 10 labeled"
    ):
        make_split(skewed, 20, seed=0)
    with pytest.raises(InputError, match="exceeds"):
        make_split(LABELS, 400, seed=0, n_validation=200)


def test_save_load_round_trip_and_guard(tmp_path):
    s = make_split(LABELS, 40, seed=1, n_validation=20, dataset="toy")
    save_split(tmp_path / "split.json", s, LABELS)
    back = load_split(tmp_path / "split.json", LABELS, "toy")
    assert np.array_equal(back.labeled, s.labeled) and np.array_equal(back.unlabeled, s.unlabeled)
    assert back.seed == 1
    other = LABELS.copy()
    other[[0, 499]] = other[[499, 0]]
    with pytest.raises(InputError, match="belongs to another data set"):
        load_split(tmp_path / "split.json", other, "toy")
    with pytest.raises(InputError, match="belongs to data set 'toy'"):
        load_split(tmp_path / "split.json", LABELS, "cifar10")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="unreadable"):
        load_split(tmp_path / "bad.json", LABELS)
