"""Augmentations: shapes, ranges, closed-form cases, determinism under a seed (issue 3)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deeplabelprop.data import InstanceAugment, ShiftFlip, to_tensor
from deeplabelprop.data.images.augment import (
    color_jitter,
    normalize,
    random_crop,
    random_erasing,
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
@pytest.mark.parametrize("aug", [ShiftFlip(), InstanceAugment(), InstanceAugment(erase=0.5)])
def test_pipelines_shapes_ranges_determinism(channels, aug):
    x = batch(c=channels)
    a, b = aug(x, gen(7)), aug(x, gen(7))
    assert a.shape == x.shape and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, aug(x, gen(8)))


def test_normalize():
    x = batch(c=1)
    mean, std = (0.2860,), (0.3530,)
    torch.testing.assert_close(normalize(x, mean, std), (x - mean[0]) / std[0])


@pytest.mark.parametrize("channels", [1, 3])
def test_random_erasing_fills_one_rectangle(channels):
    """Each erased image differs from its input in exactly one axis-aligned rectangle of area
    fraction within the scale range (up to rounding), filled with one value on every channel."""
    b, h, w = 200, 28, 28
    x = torch.full((b, channels, h, w), 2.0)  # out of [0, 1]: every fill value is distinguishable
    y = random_erasing(x, gen(3), p=1.0, scale=(0.02, 0.2), ratio=(0.3, 3.3))
    for i in range(b):
        changed = (y[i] != x[i]).any(dim=0)
        rows, cols = torch.nonzero(changed, as_tuple=True)
        top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        assert changed.sum() == (bottom - top) * (right - left)  # a full rectangle
        eh, ew = (bottom - top).item(), (right - left).item()
        # each side is rounded by at most half a pixel from sides of area fraction in [0.02, 0.2]
        assert (eh - 0.5) * (ew - 0.5) <= 0.2 * h * w
        assert (eh + 0.5) * (ew + 0.5) >= 0.02 * h * w
        assert 0.3 * (ew - 0.5) / (eh + 0.5) <= 1 and (eh - 0.5) / (ew + 0.5) <= 3.3
        fill = y[i][:, changed]
        assert torch.all(fill == fill[0, 0]) and 0 <= fill[0, 0] <= 1
    assert torch.equal(random_erasing(x, gen(3), p=0.0), x)
    some = random_erasing(x, gen(4), p=0.5)
    erased = (some != x).flatten(1).any(dim=1).float().mean().item()
    assert 0.35 < erased < 0.65  # Binomial(200, 0.5): 5 standard deviations either side


def test_instance_augment_without_erasing_draws_as_before():
    """erase = 0 makes no random draws: runs configured before the option reproduce exactly."""
    x = batch(c=1)
    g1, g2 = gen(5), gen(5)
    a = InstanceAugment(erase=0.0)(x, g1)
    ref = random_hflip(
        random_grayscale(
            color_jitter(
                random_resized_crop(x, g2, scale=(0.2, 1.0)),
                g2,
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
            ),
            g2,
            0.2,
        ),
        g2,
    )
    assert torch.equal(a, ref)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))
