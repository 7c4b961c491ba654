"""A generated 3-class image data set every recipe test runs on."""

import numpy as np
import pytest


def blocks(n, rng):
    """3 classes: a bright 4 × 4 block in one of three corners of an 8 × 8 image, plus noise."""
    labels = np.arange(n) % 3
    images = rng.integers(0, 60, (n, 8, 8), dtype=np.uint8)
    for i, c in enumerate(labels):
        r, col = [(0, 0), (0, 4), (4, 2)][c]
        images[i, r : r + 4, col : col + 4] += 180
    return images, labels


@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(0)
    tr, ytr = blocks(300, rng)
    te, yte = blocks(90, rng)
    path = tmp_path / "blocks.npz"
    np.savez(
        path,
        images=tr,
        labels=ytr,
        images_test=te,
        labels_test=yte,
        classes=np.array(["a", "b", "c"]),
    )
    return path
