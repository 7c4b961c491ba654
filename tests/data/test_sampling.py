"""The in-memory Dataset and the two-stream batch sampler (issue 3)."""

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.data import InMemoryImages, TwoStreamBatchSampler


def test_dataset_items():
    ds = InMemoryImages(np.zeros((4, 2, 2, 1), np.uint8), np.array([0, -1, 1, -1]))
    img, target, index = ds[2]
    assert img.shape == (2, 2, 1) and int(target) == 1 and index == 2 and len(ds) == 4


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
