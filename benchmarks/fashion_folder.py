"""Fashion-MNIST written out as a user's folder of images (issue 17), for the README's example.

    .venv/bin/python benchmarks/fashion_folder.py --n-labeled 100 -o /tmp/fashion-folder

    /tmp/fashion-folder/
      labeled/<class>/<opaque>.png    n_labeled images, class-balanced (the same seeded split as
                                      the in-memory runs: make_split(labels, n_labeled, seed))
      unlabeled/<opaque>.png          every other training image, a flat pile
      test/<class>/<opaque>.png       the 10,000 test images
      test-pile/<opaque>.png          the same test images without their classes (for predict)

Every image is upscaled from 28 × 28 to a random size in [28, 44] (bilinear), so the folder has
mixed sizes as photos do; file names are opaque (a hash), in no class order.

With ``--n-labeled 0`` nothing is labeled (no labeled/ folder: the first round of the labeling
loop starts from ``suggest``), and the truth of every training image is written *beside* the
folder, as ``<folder>.truth.csv`` (``path,label``), for a script that stands in for the person.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
from PIL import Image

from deeplabelprop.data import load_dataset, make_split


def folder_name(name: str) -> str:
    return name.replace("/", "-").replace(" ", "-")


def opaque(split: str, index: int) -> str:
    return hashlib.sha1(f"{split}-{index}".encode()).hexdigest()[:16] + ".png"


def write(path: Path, image: np.ndarray, side: int) -> None:
    im = Image.fromarray(image[..., 0])
    if side != image.shape[0]:
        im = im.resize((side, side), Image.BILINEAR)
    im.save(path, optimize=False, compress_level=1)


def build(out: Path, n_labeled: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    train, test = load_dataset("fashion-mnist"), load_dataset("fashion-mnist", "test")
    labeled = (
        set(
            make_split(train.labels, n_labeled, seed=seed, dataset="fashion-mnist").labeled.tolist()
        )
        if n_labeled
        else set()
    )
    for name in train.classes:
        if n_labeled:
            (out / "labeled" / folder_name(name)).mkdir(parents=True, exist_ok=True)
        (out / "test" / folder_name(name)).mkdir(parents=True, exist_ok=True)
    (out / "unlabeled").mkdir(parents=True, exist_ok=True)
    (out / "test-pile").mkdir(parents=True, exist_ok=True)
    sides = rng.integers(28, 45, len(train) + len(test))
    for i in range(len(train)):
        where = (
            out / "labeled" / folder_name(train.classes[train.labels[i]])
            if i in labeled
            else out / "unlabeled"
        )
        write(where / opaque("train", i), train.images[i], int(sides[i]))
    if not n_labeled:  # the truth beside the folder, for the script that plays the person
        rows = [
            f"unlabeled/{opaque('train', i)},{folder_name(train.classes[train.labels[i]])}"
            for i in range(len(train))
        ]
        out.with_name(out.name + ".truth.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    for i in range(len(test)):
        side = int(sides[len(train) + i])
        write(
            out / "test" / folder_name(test.classes[test.labels[i]]) / opaque("test", i),
            test.images[i],
            side,
        )
        write(out / "test-pile" / opaque("test", i), test.images[i], side)
    return {"labeled": len(labeled), "unlabeled": len(train) - len(labeled), "test": len(test)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-labeled", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", type=Path, required=True)
    args = p.parse_args()
    t = time.perf_counter()
    counts = build(args.output, args.n_labeled, args.seed)
    print(f"wrote {args.output}: {counts} in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
