"""Tiny data sets shared by the tests."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_moons


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """Decoded-image caches go to the test's folder, never to ~/.cache."""
    monkeypatch.setenv("DEEPLABELPROP_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def blobs():
    """Three well separated clusters in 8-D, 300 points, two labels per class."""
    x, y = make_blobs(n_samples=300, centers=3, n_features=8, cluster_std=1.0, random_state=0)
    x = x.astype(np.float32)
    labels = np.full_like(y, -1)
    rng = np.random.default_rng(0)
    for c in range(3):
        labels[rng.choice(np.flatnonzero(y == c), 2, replace=False)] = c
    return x, y, labels


@pytest.fixture
def moons():
    """Two moons lifted to 3-D with an offset (cosine geometry needs it), one label per moon."""
    x, y = make_moons(n_samples=400, noise=0.05, random_state=0)
    x = np.c_[x, np.full(len(x), 3.0)].astype(np.float32)
    labels = np.full_like(y, -1)
    labels[np.flatnonzero(y == 0)[0]] = 0
    labels[np.flatnonzero(y == 1)[0]] = 1
    return x, y, labels


def blocks(n, rng):
    """3 classes: a bright 4 × 4 block in one of three corners of an 8 × 8 image, plus noise."""
    labels = np.arange(n) % 3
    images = rng.integers(0, 60, (n, 8, 8), dtype=np.uint8)
    for i, c in enumerate(labels):
        r, col = [(0, 0), (0, 4), (4, 2)][c]
        images[i, r : r + 4, col : col + 4] += 180
    return images, labels


def write_blocks(path, *, noisy_fraction=0.0, seed=0):
    """The blocks data set as an npz (300 train, 90 test images); ``noisy_fraction`` of the train
    labels are moved to the next class, so that they disagree with the images.
    Returns (path, train labels, test labels)."""
    rng = np.random.default_rng(seed)
    tr, ytr = blocks(300, rng)
    te, yte = blocks(90, rng)
    flip = rng.permutation(300)[: int(noisy_fraction * 300)]
    ytr[flip] = (ytr[flip] + 1) % 3
    np.savez(
        path,
        images=tr,
        labels=ytr,
        images_test=te,
        labels_test=yte,
        classes=np.array(["a", "b", "c"]),
    )
    return path, ytr, yte


def recipe_config(name, data, over=None, *, fast_dev_run=False):
    """Recipe ``name``'s checked config from ``data`` after ``section__leaf=value`` (or
    ``key=value``) overrides."""
    from deeplabelprop.recipes import build_config, get_recipe

    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for key, value in (over or {}).items():
        section, _, leaf = key.partition("__")
        if leaf:
            data.setdefault(section, {})[leaf] = value
        else:
            data[section] = value
    return build_config(get_recipe(name), data, fast_dev_run=fast_dev_run)


@pytest.fixture
def dataset(tmp_path):
    return write_blocks(tmp_path / "blocks.npz")[0]


def run_recipe(name, data, out, *, fast_dev_run=False, **kwargs):
    """Build recipe ``name``'s checked config from ``data`` (a dict as in TOML) and run it."""
    from deeplabelprop.recipes import build_config, get_recipe

    recipe = get_recipe(name)
    config = build_config(recipe, data, fast_dev_run=fast_dev_run)
    return recipe.run(config, out, fast_dev_run=fast_dev_run, **kwargs)
