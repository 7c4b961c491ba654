"""``deeplabelprop export RUN --format label-studio|fiftyone|folders [--min-confidence C] -o OUT``:
the run's labels for the tools people already use (one JSON file for label-studio, a folder for
the others). The person's own labels are exported as theirs; pseudo labels below
``--min-confidence`` are left out (the images stay, unlabeled); images marked "none of these"
are left out."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "export"
HELP = "the run's labels as Label Studio tasks, a FiftyOne dataset or <class>/ folders"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..exports import FORMATS

    p.add_argument("run", type=Path, help="a run folder")
    p.add_argument("--format", required=True, choices=sorted(FORMATS))
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.0,
        help="leave out pseudo labels whose calibrated confidence is below this (default 0)",
    )
    p.add_argument("--copy", action="store_true", help="copy the images (default: symbolic links)")
    p.add_argument("-o", "--output", type=Path, required=True, help="tasks.json or a new folder")


def main(args: argparse.Namespace) -> int:
    from ..exports import FORMATS

    said = FORMATS[args.format](
        args.run, args.output, min_confidence=args.min_confidence, copy=args.copy
    )
    config = said.pop("config", None)
    root = said.pop("document_root", None)
    print(f"wrote {args.output}: " + ", ".join(f"{v} {k}" for k, v in said.items()))
    if root is not None:
        print(
            "in Label Studio: start it with LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and "
            f"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={root}, add a Local Files storage under that "
            "root, use this labeling config, and import the file:"
        )
        print(config, end="")
    return 0
