"""``deeplabelprop review RUN [--host HOST] [--port PORT]``: the review page of a run.

Serves the page on 127.0.0.1 (another address only with ``--host``) and prints its URL, which
carries a random token: only who has the URL can see the images and change labels. Stop it
with Ctrl-C; every change is already on disk.
"""

from __future__ import annotations

import argparse
import secrets
import socket
from pathlib import Path

from .._optional import require
from .._runfile import read_run
from ..errors import InputError

NAME = "review"
HELP = "a page to review pseudo labels, correct them and propagate again"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="a run folder")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")


def _check_port(host: str, port: int) -> None:
    """Refuse a port another program listens on, before anything starts."""
    try:
        socket.create_server((host, port)).close()  # bound and released at once: it is free
    except OSError as exc:
        raise InputError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another with --port"
        ) from None


def main(args: argparse.Namespace) -> int:
    uvicorn = require("uvicorn")
    from ..review.app import create_app

    read_run(args.run)  # a clear error before the server starts
    _check_port(args.host, args.port)
    token = secrets.token_urlsafe(24)
    app = create_app(args.run, token, args.host, args.port)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"review {args.run} at http://{shown}:{args.port}/?token={token}", flush=True)
    print("(Ctrl-C stops it; every change is already written)", flush=True)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    uvicorn.Server(config).run()
    return 0
