"""``deeplabelprop review`` as a person starts it: a real server in its own process."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(run, timeout=60.0):
    """Yield (base URL, token, process) of ``deeplabelprop review RUN`` once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "deeplabelprop", "review", str(run), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"(http://\S+)/\?token=(\S+)", line)
        if not match:
            try:
                process.wait(timeout=10)
                rest = process.stdout.read()
            except subprocess.TimeoutExpired:
                rest = ""
            raise AssertionError(f"review printed {line + rest!r}, exit code {process.poll()}")
        base, token = match.groups()
        deadline = time.monotonic() + timeout
        while True:
            try:
                get(base, "/api/overview", token)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and process.poll() is None, (
                    "server did not start"
                )
                time.sleep(0.2)
        yield base, token, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def request(base, path, token=None, *, body=None, headers=None, method=None):
    """(status, bytes) of a request; ``body`` is sent as JSON with the token in its header."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
        if token is not None:
            headers.setdefault("X-Token", token)
    elif token is not None:
        path += ("&" if "?" in path else "?") + f"token={token}"
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get(base, path, token):
    status, data = request(base, path, token)
    if status != 200:
        raise ConnectionError(f"{path}: {status} {data[:200]!r}")
    return json.loads(data)


def post(base, path, token, body):
    status, data = request(base, path, token, body=body)
    try:
        return status, json.loads(data)
    except ValueError:  # a refusal of the guard is plain text
        return status, {"error": data.decode()}
