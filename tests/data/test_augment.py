"""Augmentations: shapes, ranges, closed-form cases, determinism under a seed (issue 3)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deeplabelprop.data import InstanceAugment, ShiftFlip, to_tensor
from deeplabelprop.data.augment import (
    NORMALIZATION,
    color_jitter,
    normalize,
    random_crop,
    random_grayscale,
    random_hflip,
    random_resized_crop,
)


def batch(c=3, b=6, h=12, w=10):
    rng = np.random.default_rng(0)
    return to_tensor(rng.integers(0, 256, (b, h, w, c), dtype=np.uint8))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_to_tensor_layout():
    imgs = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    t = to_tensor(imgs)
    assert t.shape == (2, 3, 3, 4) and t.dtype == torch.float32
    assert t[1, 2, 0, 1].item() == pytest.approx(imgs[1, 0, 1, 2] / 255)


@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_random_crop_is_a_translation(mode):
    x = batch()
    y = random_crop(x, 2, gen(), mode=mode)
    padded = F.pad(x, (2,) * 4, mode=mode)
    for b in range(x.shape[0]):  # each output is the padded image at one of the 25 offsets
        assert any(
            torch.equal(y[b], padded[b, :, dy : dy + 12, dx : dx + 10])
            for dy in range(5)
            for dx in range(5)
        )
    assert torch.equal(random_crop(x, 0, gen()), x)


def test_flip_resized_crop_grayscale_closed_forms():
    x = batch()
    assert torch.equal(random_hflip(x, gen(), p=1.0), x.flip(-1))
    assert torch.equal(random_hflip(x, gen(), p=0.0), x)
    same = random_resized_crop(x, gen(), scale=(1.0, 1.0), ratio=(1.0, 1.0))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)  # the whole image is the identity
    g = random_grayscale(x, gen(), p=1.0)
    assert torch.allclose(g[:, 0], g[:, 1]) and torch.allclose(g[:, 1], g[:, 2])
    assert torch.equal(color_jitter(x, gen(), p=0.0), x)
    bright = color_jitter(x, gen(), brightness=0.5, contrast=0, saturation=0, hue=0, p=1.0)
    ratio = bright[x > 0.05] / x[x > 0.05]
    assert ((ratio >= 0.5 - 1e-5) & (ratio <= 1.5 + 1e-5)).all()


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("aug", [ShiftFlip(), InstanceAugment()])
def test_pipelines_shapes_ranges_determinism(channels, aug):
    x = batch(c=channels)
    a, b = aug(x, gen(7)), aug(x, gen(7))
    assert a.shape == x.shape and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, aug(x, gen(8)))


def test_normalize():
    x = batch(c=1)
    mean, std = NORMALIZATION["fashion-mnist"]
    torch.testing.assert_close(normalize(x, mean, std), (x - mean[0]) / std[0])
