"""Peak resident memory of a pass over an image folder as it grows (issue 17).

    .venv/bin/python benchmarks/folder_memory.py --root /tmp/foldermem --copies 1 2 4

Writes Fashion-MNIST's 70,000 images as 64 × 64 RGB JPEGs (upscaled, tinted) into ``unlabeled/``
(10 per class labeled), then hard-links ``copies`` times as many under other names, and for each
size runs, in a fresh process under ``/usr/bin/time -v``, what a recipe does before training:
the listing pass, then one embedding pass of every image through ``small-cnn`` (the features a
propagation runs on), with the images decoded per batch in 2 DataLoader workers
(``cache = "none"``) or decoded once into a memory-mapped file (``cache = "disk"``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 64


def build(root: Path, copies: int) -> int:
    """The folder with ``copies`` × 70,000 images; the first copy is written, the others linked."""
    from deeplabelprop.data import load_dataset

    base = root / "base"
    if not base.is_dir():
        train, test = load_dataset("fashion-mnist"), load_dataset("fashion-mnist", "test")
        images = np.concatenate([train.images, test.images])[..., 0]
        labels = np.concatenate([train.labels, test.labels])
        tmp = root / "base.tmp"
        for c in range(10):
            (tmp / "labeled" / f"c{c}").mkdir(parents=True, exist_ok=True)
        (tmp / "unlabeled").mkdir(parents=True, exist_ok=True)
        first = {c: list(np.flatnonzero(labels == c)[:10]) for c in range(10)}
        chosen = {int(i) for v in first.values() for i in v}
        for i, a in enumerate(images):
            im = Image.fromarray(a).resize((SIDE, SIDE), Image.BILINEAR)
            im = Image.merge("RGB", (im, im.point(lambda v: v * 0.8), im.point(lambda v: 255 - v)))
            where = tmp / "labeled" / f"c{labels[i]}" if i in chosen else tmp / "unlabeled"
            im.save(where / f"{i:06d}.jpg", quality=90)
        tmp.rename(base)
    folder = root / f"x{copies}"
    if not folder.is_dir():
        tmp = root / f"x{copies}.tmp"
        for dirpath, _, files in os.walk(base):
            rel = Path(dirpath).relative_to(base)
            (tmp / rel).mkdir(parents=True, exist_ok=True)
            for name in files:
                for k in range(copies if rel.parts[:1] == ("unlabeled",) else 1):
                    os.link(Path(dirpath) / name, tmp / rel / f"{k}_{name}")
        tmp.rename(folder)
    return sum(len(f) for _, _, f in os.walk(folder))


def one_pass(folder: Path, cache: str, workers: int) -> None:
    """The listing, then an embedding of every image (what a recipe does before training)."""
    import torch

    from deeplabelprop.data import ImageStream, LoadOptions, ShiftFlip, load_problem
    from deeplabelprop.models import build_model

    t = time.perf_counter()
    options = LoadOptions(cache=cache, num_workers=workers)
    problem = load_problem(f"folder:{folder}", options)
    listed = time.perf_counter() - t
    stream = ImageStream(
        problem.train.images,
        ShiftFlip(),
        normalization=problem.train.normalization,
        num_workers=workers,
    )
    torch.manual_seed(0)
    model = build_model("small-cnn", 3, width=8)
    features = stream.embed(model, batch=512)
    print(
        f"images {len(problem.train)} features {tuple(features.shape)} listing {listed:.1f} s total {time.perf_counter() - t:.1f} s"
    )


def measure(folder: Path, cache: str, workers: int, cache_dir: Path) -> tuple[float, str]:
    env = {**os.environ, "DEEPLABELPROP_CACHE": str(cache_dir)}
    cmd = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        __file__,
        "pass",
        str(folder),
        cache,
        str(workers),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return rss / 1024, out.stdout.strip().splitlines()[-1]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "pass":
        one_pass(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--copies", type=int, nargs="+", default=[1, 2, 4])
    args = p.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    print("| images | decoded size | cache | peak RSS | pass |")
    print("|---|---|---|---|---|")
    for copies in args.copies:
        n = build(args.root, copies)
        decoded = n * SIDE * SIDE * 3 / 2**30
        for cache in ("none", "disk"):
            rss, line = measure(args.root / f"x{copies}", cache, 2, args.root / "cache")
            print(f"| {n:,} | {decoded:.2f} GiB | {cache} | {rss:,.0f} MiB | {line} |", flush=True)


if __name__ == "__main__":
    main()
