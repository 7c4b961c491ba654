"""Fixtures: small data folders in the exact real formats."""

import pickle

import numpy as np
import pytest
from formats import cifar_batch, write_idx


@pytest.fixture
def idx_dir(tmp_path):
    """A Fashion-MNIST-shaped folder: 30 train and 10 test images of 28 × 28."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("t10k", 10)):
        write_idx(
            tmp_path / f"{split}-images-idx3-ubyte.gz",
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        )
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return tmp_path


@pytest.fixture
def cifar10_dir(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(cifar_batch(4, rng), protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(cifar_batch(3, rng), protocol=2))
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": names, b"num_vis": 3072}, protocol=2)
    )
    return tmp_path
