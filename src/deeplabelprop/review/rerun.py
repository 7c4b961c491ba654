"""Propagate again: rerun a run with its labels as they are now, in a background process.

``python -m deeplabelprop.review.rerun RUN [KEY=VALUE ...]`` rebuilds the run's recipe and
config from ``run.json`` and runs it into the same folder: the run's own rule (a stage reruns
when what it reads changed) keeps the stages that do not read labels, the metric among them,
and starts the next round. :class:`Rerun` starts that process once at a time (a second start
while one runs is refused) and reports its progress from ``run.json`` and its log.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from .._runfile import read_run
from ..errors import InputError

LOG = "review/rerun.log"


class Rerun:
    """The background rerun of one run folder."""

    def __init__(self, run: str | Path):
        self.run = Path(run)
        self.process: subprocess.Popen | None = None
        self.started_round: int | None = None
        self._lock = threading.Lock()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, overrides: tuple[str, ...] = ()) -> None:
        """Start the rerun; refused while one runs (two clicks start one run)."""
        with self._lock:
            if self.running():
                raise InputError("a rerun is running already; wait for it to finish")
            log = self.run / LOG
            log.parent.mkdir(parents=True, exist_ok=True)
            self.started_round = int(read_run(self.run).get("round", 1))
            with open(log, "w", encoding="utf-8") as out:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "deeplabelprop.review.rerun", str(self.run), *overrides],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )

    def progress(self) -> dict:
        """Where the rerun is: running or not, its exit code, the stages with their status, the
        round, and the last line it logged."""
        record = read_run(self.run)
        log = self.run / LOG
        lines = (
            log.read_text(encoding="utf-8", errors="replace").splitlines() if log.is_file() else []
        )
        code = None if self.process is None else self.process.poll()
        return {
            "running": self.running(),
            "returncode": code,
            "round": int(record.get("round", 1)),
            "started_round": self.started_round,
            "stages": {k: v.get("status") for k, v in record["stages"].items()},
            "last_line": lines[-1] if lines else "",
        }


def rerun(run: str | Path, overrides: list[str]) -> dict:
    """Run the run of folder ``run`` again with its own recipe and settings (plus
    ``overrides``, e.g. where its labels now are); returns its results."""
    from ..recipes import build_config, get_recipe

    run = Path(run)
    record = read_run(run)
    recipe = get_recipe(record["recipe"], str(run / "run.json"))
    config = build_config(recipe, dict(record["config"]), overrides)
    return recipe.run(config, run)


def main(argv: list[str] | None = None) -> int:
    import logging

    argv = sys.argv[1:] if argv is None else argv
    handler = logging.StreamHandler(sys.stdout)  # the log the page shows the last line of
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("deeplabelprop")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    root.info("propagating %s again", argv[0])
    try:
        rerun(argv[0], argv[1:])
    except InputError as exc:
        print(f"deeplabelprop: error: {exc}", flush=True)
        return 2
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
