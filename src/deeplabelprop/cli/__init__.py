"""Command line: each subcommand is one module here and maps onto one library call.

    deeplabelprop propagate FEATURES LABELS --method M [--k --alpha --eta ...] -o OUT.npz
    deeplabelprop run CONFIG [--set key=value ...] [--fast-dev-run] -o RUN
    deeplabelprop pretrain [CONFIG] [--dataset D] [--set key=value ...] -o RUN
    deeplabelprop predict MODEL IMAGES... -o predictions.csv
    deeplabelprop report RUN [RUN ...] -o DIR
    deeplabelprop split DATASET --n-labeled N --seed S -o split.json
    deeplabelprop methods | datasets | demo

Bad input prints one line ``deeplabelprop: error: ...`` and exits with code 2; no partial
output file is left behind (outputs are written atomically).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from ..errors import InputError
from . import datasets, demo, methods, predict, pretrain, propagate, report, run, split

COMMANDS = [propagate, run, pretrain, predict, report, split, methods, datasets, demo]
QUIET_COMMANDS = ("methods", "datasets", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deeplabelprop", description="Label propagation over deep embeddings."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        command.add_arguments(p)
        p.set_defaults(handler=command.main)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (it may be replaced)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        return None


def _setup_logging(quiet: bool) -> None:
    handler = _StderrHandler()
    start = time.perf_counter()

    class _Elapsed(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"[{time.perf_counter() - start:7.2f} s] {record.getMessage()}"

    handler.setFormatter(_Elapsed())
    root = logging.getLogger("deeplabelprop")
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(getattr(args, "quiet", False) or args.command in QUIET_COMMANDS)
    try:
        return args.handler(args)
    except InputError as exc:
        print(f"deeplabelprop: error: {exc}", file=sys.stderr)
        return 2
