"""``deeplabelprop import RUN tasks.json``: the annotations of a Label Studio JSON export (of
tasks written by ``export --format label-studio``) into the run's labels, each change logged
with provenance ``imported``. Then ``review`` or a rerun propagates them."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "import"
HELP = "take annotations exported from Label Studio into the run's labels"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="a run folder")
    p.add_argument("tasks", type=Path, help="Label Studio's JSON export")


def main(args: argparse.Namespace) -> int:
    from ..exports import import_label_studio

    said = import_label_studio(args.run, args.tasks)
    print(
        f"imported {said['annotated']} annotation(s) from {args.tasks}: {said['changed']} "
        "label(s) changed; propagate again (the review page, or rerun the run) to use them"
    )
    return 0
