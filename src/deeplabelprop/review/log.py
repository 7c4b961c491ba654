"""The append-only log of every label change, beside the labels (``labels.log.jsonl``).

One JSON object per line, appended and fsynced after the label file was replaced:

    {"id": 7, "time": "2026-12-07T04:10:00+00:00", "round": 2, "action": "label",
     "provenance": "typed", "changes": [["unlabeled/a.png", null, "cat"]],
     "extra_classes": [], "labels_sha256": "…"}

``changes`` are ``[key, before, after]`` (None: no row in the label file); ``extra_classes``
are the classes added in the page that no image has yet, after the action; ``labels_sha256``
is the label file as this action left it, so a change made meanwhile by another program (a
text editor, a spreadsheet) is detected on the next action, also across restarts. An ``undo``
entry names the entry it undoes (``undoes``) and carries the reversed changes, so undo works
across restarts and the log is never rewritten. A line cut short by a killed process is
ignored when read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from ..data.readers.folder import LABEL_LOG

PROVENANCES = ("typed", "accepted", "corrected", "imported", "class", "undo", "outside")
NOT_UNDOABLE = ("undo", "external")


def log_path(labels: Path) -> Path:
    """The log beside label file ``labels``."""
    return labels.with_name(LABEL_LOG)


def read_log(path: Path) -> list[dict]:
    """The complete entries of log ``path`` (a last line cut short is left out)."""
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a killed writer: its change was not recorded
    return entries


def append(path: Path, entry: dict) -> dict:
    """Append ``entry`` (with its time) to log ``path`` and fsync it; returns the entry."""
    entry = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **entry}
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def last_undoable(entries: list[dict]) -> dict | None:
    """The latest entry that changed labels or classes and is not undone yet."""
    undone = {e["undoes"] for e in entries if e.get("action") == "undo"}
    for entry in reversed(entries):
        if entry.get("action") not in NOT_UNDOABLE and entry["id"] not in undone:
            return entry
    return None
