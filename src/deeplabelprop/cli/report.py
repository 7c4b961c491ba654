"""``deeplabelprop report RUN [RUN ...] -o DIR``: the papers' figures and tables of runs."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "report"
HELP = "figures and tables of run directories or propagate .npz outputs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", type=Path, nargs="+", help="run directories or propagate .npz files")
    p.add_argument(
        "--truth",
        type=Path,
        help="for .npz inputs: the true labels, in propagate's formats (.npy or CSV index,label)",
    )
    p.add_argument(
        "--embedding", choices=["pca", "tsne"], default="pca", help="2-D map (t-SNE is slower)"
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="report folder")


def main(args: argparse.Namespace) -> int:
    from ..evaluate.report import build_report

    tables = build_report(args.runs, args.output, truth=args.truth, embedding=args.embedding)
    for row in tables["summary"]:
        print(
            ", ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
            )
        )
    print(f"wrote {args.output}/report.md and report.html")
    return 0
