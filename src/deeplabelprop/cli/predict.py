"""``deeplabelprop predict MODEL IMAGES... -o predictions.csv``: a trained classifier (a run
directory or its model.pt) on new images or folders, preprocessed as in training."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from ..atomic import atomic_path

NAME = "predict"
HELP = "apply a run's classifier to new images or folders; writes predictions.csv"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, help="a run directory, or its model.pt")
    p.add_argument("images", nargs="+", help="image files and/or folders (searched at any depth)")
    p.add_argument("-o", "--output", type=Path, required=True, help="predictions .csv")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers that decode")
    p.add_argument("--top-k", type=int, default=3, help="classes (with probabilities) per row")
    p.add_argument(
        "--unreadable", choices=["stop", "skip"], default="stop", help="files that cannot be read"
    )


def main(args: argparse.Namespace) -> int:
    from ..graph.knn import default_device
    from ..models.inference import image_files, load_classifier, predict_files

    device = args.device or default_device()
    saved = load_classifier(args.model, device)
    files, proba = predict_files(
        saved,
        image_files(args.images),
        device=device,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        unreadable=args.unreadable,
    )
    k = max(1, min(args.top_k, proba.shape[1]))
    top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    with atomic_path(args.output) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        header = ["path", "label", "probability"]
        for j in range(2, k + 1):
            header += [f"class_{j}", f"probability_{j}"]
        writer.writerow(header)
        for f, t, p in zip(files, top, proba, strict=True):
            row = [f]
            for c in t:
                row += [saved.classes[c], f"{p[c]:.4f}"]
            writer.writerow(row)
    print(f"predicted {len(files)} image(s) with {args.model}; wrote {args.output}")
    return 0
