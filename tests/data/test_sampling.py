"""The two-stream batch sampler (issue 3)."""

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.data import TwoStreamBatchSampler


def test_batch_composition_and_epoch_cover():
    labeled, unlabeled = np.arange(0, 7), np.arange(7, 57)
    s = TwoStreamBatchSampler(labeled, unlabeled, 3, 8, seed=1)
    batches = list(s)
    assert len(batches) == len(s) == 6  # 50 // 8, last incomplete batch dropped
    seen = []
    for b in batches:
        assert len(b) == 11
        assert set(b[:3]) <= set(labeled.tolist()) and set(b[3:]) <= set(unlabeled.tolist())
        seen += b[3:]
    assert len(seen) == len(set(seen)) == 48  # each unlabeled at most once per epoch
    lab = [i for b in batches for i in b[:3]]
    assert (
        np.bincount(lab, minlength=7).max() - np.bincount(lab, minlength=7).min() <= 1
    )  # cycled evenly
    assert list(TwoStreamBatchSampler(labeled, unlabeled, 3, 8, seed=1)) == batches  # deterministic
    s.set_epoch(1)
    assert list(s) != batches


def test_sampler_errors():
    with pytest.raises(InputError):
        TwoStreamBatchSampler([], np.arange(10), 2, 2)
    with pytest.raises(InputError):
        TwoStreamBatchSampler([0], np.arange(3), 2, 5)


def test_fixed_number_of_batches_cycles_both_streams():
    labeled, unlabeled = np.arange(0, 5), np.arange(5, 25)
    s = TwoStreamBatchSampler(labeled, unlabeled, 2, 6, seed=3, n_batches=7)
    batches = list(s)
    assert len(batches) == len(s) == 7  # 42 unlabeled draws from a pool of 20
    unl = [i for b in batches for i in b[2:]]
    lab = [i for b in batches for i in b[:2]]
    assert set(unl) <= set(unlabeled.tolist()) and set(lab) <= set(labeled.tolist())
    # fresh random orders back to back: every index twice in the first 40 draws
    assert sorted(unl[:20]) == sorted(unl[20:40]) == unlabeled.tolist()
    counts = np.bincount(lab, minlength=5)
    assert counts.max() - counts.min() <= 1  # 14 labeled draws over 5: cycled evenly
    # without n_batches: one pass over the unlabeled stream, its first random order
    one = list(TwoStreamBatchSampler(labeled, unlabeled, 2, 6, seed=3))
    assert len(one) == 3 and [b[2:] for b in one] == [b[2:] for b in batches[:3]]
    with pytest.raises(InputError):
        TwoStreamBatchSampler(labeled, unlabeled, 2, 6, n_batches=0)


def test_stream_with_labeled_rows_in_every_batch():
    from deeplabelprop.data import ImageStream, ShiftFlip

    images = np.zeros((100, 4, 4, 1), np.uint8)
    labeled = np.array([5, 17, 60])
    stream = ImageStream(images, ShiftFlip(), 20, 3, labeled=labeled, labeled_per_batch=2)
    batches = [idx.numpy() for idx, *_ in stream.batches(1)]
    assert len(batches) == stream.steps_per_epoch == 5  # as many as the uniform batches
    for b in batches:
        assert np.isin(b[:2], labeled).all() and not np.isin(b[2:], labeled).any()
    again = [idx.numpy() for idx, *_ in stream.batches(1)]
    # deterministic per epoch
    assert all((a == b).all() for a, b in zip(batches, again, strict=True))
    for bad in ({"labeled_per_batch": 20, "labeled": labeled}, {"labeled_per_batch": 2}):
        with pytest.raises(ValueError, match="labeled_per_batch"):
            ImageStream(images, ShiftFlip(), 20, 3, **bad)
