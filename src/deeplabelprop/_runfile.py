"""The ``run.json`` of a run directory: its format and how it is read (recipes write it through
:mod:`deeplabelprop.recipes.run_dir`; ``report`` and ``predict`` only read it)."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError

RUN_FILE = "run.json"
FORMAT = "deeplabelprop.run/1"


def read_run(path: str | Path) -> dict:
    """The ``run.json`` of run directory ``path``."""
    path = Path(path)
    try:
        record = json.loads((path / RUN_FILE).read_text())
    except FileNotFoundError:
        old = " (a run of an older version?)" if (path / "config.json").exists() else ""
        raise InputError(f"{path} is not a run directory (no {RUN_FILE}){old}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path / RUN_FILE} is unreadable ({exc})") from exc
    if record.get("format") != FORMAT:
        raise InputError(f"{path / RUN_FILE} is not a deeplabelprop run record ({FORMAT})")
    return record
