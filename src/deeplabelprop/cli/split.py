"""``deeplabelprop split DATASET -o split.json``: a seeded labeled/unlabeled split, which
``propagate`` reads as its labels."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import InputError

NAME = "split"
HELP = "a seeded labeled/unlabeled split of a data set, saved as JSON"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..data import datasets

    p.add_argument("dataset", help=", ".join(sorted(e.usage for e in datasets().values())))
    p.add_argument("--n-labeled", type=int, required=True, help="labeled examples (class-balanced)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-validation", type=int, default=0, help="held-out validation examples")
    p.add_argument(
        "--global",
        dest="per_class",
        action="store_false",
        help="sample labels uniformly, not per class",
    )
    p.add_argument("--data-dir", type=Path, help="where the data set's files are")
    p.add_argument(
        "--download", action="store_true", help="fetch missing MNIST-family files (SHA-256 checked)"
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="split .json")


def main(args: argparse.Namespace) -> int:
    from ..data import LoadOptions, make_split, save_split
    from ..data.problem.problem import train_and_test

    options = LoadOptions(
        data_dir=str(args.data_dir) if args.data_dir else None, download=args.download
    )
    data, _, notes = train_and_test(args.dataset, options)  # the training images the recipes use
    for note in notes:
        print(note)
    if not data.fully_labeled:
        raise InputError(
            f"{args.dataset} names its own labeled images; a split draws labels from a fully "
            "labeled data set"
        )
    split = make_split(
        data.labels,
        args.n_labeled,
        seed=args.seed,
        per_class=args.per_class,
        n_validation=args.n_validation,
        dataset=data.name,
    )
    save_split(args.output, split, data.labels, data.classes)
    counts = np.bincount(data.labels[split.labeled], minlength=len(data.classes))
    print(
        f"{data.name}: {len(data)} images {data.shape}; {split.labeled.size} labeled, "
        f"{split.unlabeled.size} unlabeled, {split.validation.size} validation (seed {args.seed})"
    )
    print(
        "labeled per class: "
        + ", ".join(f"{c}={k}" for c, k in zip(data.classes, counts, strict=True))
    )
    print(f"wrote {args.output}")
    return 0
