"""WebDataset tar shards, ``webdataset:PATH/{000000..000099}.tar``: each sample an image
(``.jpg``, ``.png``, ... : the first image member) and an optional ``.cls`` (a class number or
name); a sample without ``.cls`` is unlabeled. Read with the ``webdataset`` package (the
``shards`` extra), in the shards' order, keyed by each sample's ``__key__``. It is one split
(training): hold labeled samples out as the test set with ``validation_fraction``."""

from __future__ import annotations

from pathlib import Path

from ..._optional import require
from ..images.files import IMAGE_EXTENSIONS
from .options import LoadOptions
from .registry import register_dataset
from .shards import Shards, expand, one_split

IMAGE_KEYS = tuple(e.lstrip(".") for e in sorted(IMAGE_EXTENSIONS))


def _samples(files: tuple[Path, ...]):
    wds = require("webdataset")
    urls = [str(f) for f in files]
    return wds.WebDataset(urls, shardshuffle=False, empty_check=False)


def _label(sample: dict):
    raw = sample.get("cls")
    if raw is None:
        return None
    text = raw.decode("utf-8").strip() if isinstance(raw, bytes) else str(raw).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _image(sample: dict) -> bytes | None:
    for ext in IMAGE_KEYS:
        if ext in sample:
            return sample[ext]
    return None


def webdataset_shards(pattern: str) -> Shards:
    files = expand(pattern, "webdataset shards")

    def headers():
        for sample in _samples(files):
            if _image(sample) is not None:
                yield sample["__key__"], _label(sample)

    def samples():
        for sample in _samples(files):
            data = _image(sample)
            if data is not None:
                yield sample["__key__"], data

    return Shards(f"webdataset:{pattern}", files, headers, samples)


@register_dataset(
    "webdataset",
    argument="PATTERN",
    splits=("train",),
    description="WebDataset tar shards (PATH/{000000..000099}.tar): image + optional .cls",
    files=True,
)
def _webdataset(argument: str | None, split: str, options: LoadOptions):
    return one_split(lambda: webdataset_shards(argument), f"webdataset:{argument}", split, options)
