"""Command line: each subcommand is one module here and maps onto one library call.

    deeplabelprop propagate FEATURES LABELS --method M [--k --alpha --eta ...] -o OUT.npz
    deeplabelprop suggest RUN | FEATURES [LABELS] -n N [--audit A] [-o to_label.csv]
    deeplabelprop run CONFIG [--set key=value ...] [--labels-from to_label.csv] -o RUN
    deeplabelprop review RUN [--host HOST] [--port PORT]
    deeplabelprop export RUN --format label-studio|fiftyone|folders [--min-confidence C] -o OUT
    deeplabelprop import RUN tasks.json
    deeplabelprop pretrain [CONFIG] [--dataset D] [--set key=value ...] -o RUN
    deeplabelprop predict MODEL IMAGES... -o predictions.csv
    deeplabelprop embed DATASET --model SPEC -o features.npz
    deeplabelprop report RUN [RUN ...] -o DIR
    deeplabelprop split DATASET --n-labeled N --seed S -o split.json
    deeplabelprop methods | datasets | demo

Bad input prints one line ``deeplabelprop: error: ...`` and exits with code 2; no partial
output file is left behind (outputs are written atomically).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
import warnings

import torch

from .. import distributed
from ..errors import InputError
from . import (
    datasets,
    demo,
    embed,
    export,
    import_labels,
    methods,
    predict,
    pretrain,
    propagate,
    report,
    review,
    run,
    split,
    suggest,
)

COMMANDS = [
    propagate,
    suggest,
    run,
    review,
    export,
    import_labels,
    pretrain,
    predict,
    embed,
    report,
    split,
    methods,
    datasets,
    demo,
]
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


INTERRUPTED = (
    "deeplabelprop: interrupted. No file is left half-written (every write is atomic); run the "
    "same command again: `run` continues after its last finished epoch, `embed` after its last "
    "saved chunk"
)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. Under ``torchrun`` every process joins the process group first and
    leaves it at the end; an error names the process it happened in."""
    args = build_parser().parse_args(argv)
    if torch.cuda.is_available():  # deterministic cuBLAS needs this before the first CUDA call
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    started = distributed.init_from_env()
    quiet = getattr(args, "quiet", False) or args.command in QUIET_COMMANDS
    _setup_logging(quiet or not distributed.is_main())
    try:
        if distributed.is_main():
            return args.handler(args)
        # the other processes compute alongside rank 0 but say nothing: one voice per job
        with (
            open(os.devnull, "w") as sink,
            contextlib.redirect_stdout(sink),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            return args.handler(args)
    except distributed.RelayedError:
        return 2  # rank 0's error: rank 0 prints it
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback; the shell's code for SIGINT
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except InputError as exc:
        where = (
            f" (process {distributed.rank()} of {distributed.world_size()})"
            if distributed.active()
            else ""
        )
        print(f"deeplabelprop: error{where}: {exc}", file=sys.stderr)
        return 2
    finally:
        if started:
            distributed.shutdown()
