"""Shared by the benchmarks: Fashion-MNIST PCA features, class-balanced splits, a timer."""

from __future__ import annotations

import platform
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from deeplabelprop.data import read_idx

FASHION = Path("/usr/share/datasets/fashion-mnist")


def fashion_pca(n_components: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the raw pixels of the Fashion-MNIST train set (60,000 × n_components, float32)."""
    if not (FASHION / "train-images-idx3-ubyte.gz").exists():
        raise SystemExit("Fashion-MNIST not found: apt-get install dataset-fashion-mnist")
    images = read_idx(FASHION / "train-images-idx3-ubyte.gz").reshape(60000, -1) / 255.0
    labels = read_idx(FASHION / "train-labels-idx1-ubyte.gz").astype(np.int64)
    return PCA(n_components, random_state=seed).fit_transform(images).astype(np.float32), labels


def balanced_split(truth: np.ndarray, n_labeled: int, seed: int) -> np.ndarray:
    """Labels with n_labeled / c random examples per class kept, the rest -1."""
    rng = np.random.default_rng(seed)
    classes = np.unique(truth)
    y = np.full_like(truth, -1)
    for c in classes:
        keep = rng.choice(np.flatnonzero(truth == c), n_labeled // len(classes), replace=False)
        y[keep] = c
    return y


@contextmanager
def timer(out: dict, key: str = "seconds"):
    start = time.perf_counter()
    yield
    out[key] = time.perf_counter() - start


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, no GPU used"
