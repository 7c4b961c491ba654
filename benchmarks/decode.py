"""Decoding throughput of image files (issue 17): images per second with 0, 1 and 2 DataLoader
workers, at 28 px (grey) and 224 px (RGB) JPEGs made from Fashion-MNIST.

    .venv/bin/python benchmarks/decode.py --out /tmp/decode

Each setting reads every file once through ``read_batches`` (decode, fit to size, stack into
batches of 256), as a training epoch or an embedding pass does; the best of two passes counts.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from deeplabelprop.data import load_dataset
from deeplabelprop.data.images.files import FileImages
from deeplabelprop.data.images.stream import read_batches


def write_jpegs(folder: Path, n: int, side: int, rgb: bool) -> list[str]:
    images = load_dataset("fashion-mnist").images[:n, :, :, 0]
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, a in enumerate(images):
        im = Image.fromarray(a).resize((side, side), Image.BILINEAR)
        if rgb:  # tint so the three channels differ
            im = Image.merge("RGB", (im, im.point(lambda v: v * 0.8), im.point(lambda v: 255 - v)))
        name = f"{i:06d}.jpg"
        im.save(folder / name, quality=90)
        names.append(name)
    return names


def throughput(folder: Path, names: list[str], side: int, channels: int, workers: int) -> float:
    files = FileImages(folder, tuple(names), (side, side), channels)
    rows = [np.arange(s, min(s + 256, len(names))) for s in range(0, len(names), 256)]
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        n = sum(len(b) for b in read_batches(files, rows, num_workers=workers))
        best = min(best, time.perf_counter() - t)
    assert n == len(names)
    return len(names) / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the generated JPEGs")
    p.add_argument("--n-small", type=int, default=10000)
    p.add_argument("--n-large", type=int, default=2000)
    args = p.parse_args()
    print("| JPEGs | images | workers 0 | workers 1 | workers 2 |")
    print("|---|---|---|---|---|")
    for side, n, rgb in ((28, args.n_small, False), (224, args.n_large, True)):
        folder = args.out / f"{side}px"
        names = write_jpegs(folder, n, side, rgb)
        rates = [throughput(folder, names, side, 3 if rgb else 1, w) for w in (0, 1, 2)]
        print(
            f"| {side} × {side} {'RGB' if rgb else 'grey'} | {n} | "
            + " | ".join(f"{r:,.0f} / s" for r in rates)
            + " |"
        )


if __name__ == "__main__":
    main()
