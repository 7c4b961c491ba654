"""scikit-learn's digits (1,797 8 × 8 images, 10 classes): the embedded default data set."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

from ...errors import InputError
from ..images.dataset import ImageDataset
from .options import LoadOptions
from .registry import register_dataset


def load_digits_dataset(split: str = "train") -> ImageDataset:
    """All 1,797 images as uint8 (the 0..16 pixel values scaled to 0..255), one channel.

    Digits has no official test split: ``split="train"`` is the whole set; use
    :func:`deeplabelprop.data.make_split` with a validation subset to hold data out.
    """
    if split != "train":
        raise InputError(
            "digits has only split='train' (1,797 images); hold out data with make_split(n_validation=...)"
        )
    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return ImageDataset(
        images,
        d.target.astype(np.int64),
        tuple(str(i) for i in range(10)),
        "digits",
        ((0.3059,), (0.3785,)),
    )


@register_dataset(
    "digits",
    splits=("train",),
    holdout=0.2,
    description="scikit-learn's 1,797 8 × 8 digits, built in (a fixed fifth is the test set)",
)
def _digits(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    return load_digits_dataset(split)
