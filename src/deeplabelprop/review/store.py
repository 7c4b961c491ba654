"""The labels a person changes: every change is written at once, atomically, to the label file
the data set reads, under its lock, and recorded with its provenance in the log beside it
(:mod:`.log`). A change made meanwhile by another program is detected and kept, never
overwritten: the file is read again, the difference is logged as ``outside``, and the action
goes on top of it.
"""

from __future__ import annotations

import csv
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from .._runfile import read_run
from ..atomic import atomic_path
from ..data.readers.folder import NEW_CLASS, filled_to_label, read_label_csv
from ..data.tables import OUT_OF_SCOPE, header_index, read_rows
from ..errors import InputError
from ..locking import labels_lock
from . import log as label_log
from .target import LabelTarget, label_target, run_labels

HOW = ("typed", "accepted", "imported")


@dataclass
class Outcome:
    """What an action did: its log entry, and whether an outside change was found first."""

    entry: dict | None
    outside: int = 0


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


class LabelStore:
    """The labels of a run, as a person changes them (see the module docstring)."""

    def __init__(self, run: str | Path, target: LabelTarget | None = None):
        self.run = Path(run)
        self.target = target or label_target(self.run)
        self.log_path = label_log.log_path(self.target.csv)
        self.rows: dict[str, str] = {}
        self._read()
        entries = self.entries()
        # what the label file was when last written here (the log), to find outside changes
        self._seen = entries[-1]["labels_sha256"] if entries else _sha(self.target.csv)
        self._mutex = threading.Lock()  # one action at a time within this process too

    # -- state --------------------------------------------------------------------------------
    def _read(self) -> None:
        """The label file's rows as they are on disk now."""
        path = self.target.csv
        if not path.is_file():
            self.rows = {}
        elif self.target.root is not None and self.target.fixed_classes is None:
            self.rows = read_label_csv(path, self.target.root)
        else:
            self.rows = _read_keyed(path)

    def entries(self) -> list[dict]:
        return label_log.read_log(self.log_path)

    def extra_classes(self) -> list[str]:
        """Classes added in the page that no image has yet."""
        entries = self.entries()
        return list(entries[-1].get("extra_classes", [])) if entries else []

    def label(self, key: str) -> str | None:
        """The label of ``key`` now: its row, else its class folder or split label."""
        return self.rows.get(key, self.target.base.get(key))

    def classes(self) -> list[str]:
        """The classes now, sorted (a benchmark set's own, fixed)."""
        if self.target.fixed_classes is not None:
            return list(self.target.fixed_classes)
        named = {self.label(k) for k in self.target.keys} | set(self.rows.values())
        named |= set(self.extra_classes())
        return sorted(n for n in named if n is not None and n != OUT_OF_SCOPE)

    def counts(self) -> dict[str, int]:
        """Labels given now, per class (and ``!none``: marked out of scope)."""
        out: dict[str, int] = {}
        for key in self.target.keys:
            name = self.label(key)
            if name is not None:
                out[name] = out.get(name, 0) + 1
        return out

    # -- actions --------------------------------------------------------------------------------
    def set_label(self, index: int, label: str, how: str = "typed") -> Outcome:
        """Label row ``index`` of the run with class ``label`` (``how``: typed, accepted or
        imported; a typed label that replaces another given label is ``corrected``)."""
        return self.set_labels({self._key(index): label}, how)

    def set_labels(self, labels: dict[str, str], how: str) -> Outcome:
        """Label several images by key at once (one log entry)."""
        if how not in HOW:
            raise InputError(f"how must be one of {', '.join(HOW)}, not {how!r}")
        with self._mutex, labels_lock(self.target.csv):
            outside = self._catch_up()
            known = set(self.classes())
            for key, label in labels.items():
                self._check_label(label, known)
                if key not in self.target.keys:
                    raise InputError(f"{key} is not an image of this run")
            changes = [[k, self.rows.get(k), v] for k, v in labels.items() if self.label(k) != v]
            provenance = how
            if how == "typed" and any(
                self.label(k) not in (None, OUT_OF_SCOPE) for k, _, _ in changes
            ):
                provenance = "corrected"
            entry = self._apply("label", provenance, changes, self.extra_classes())
        return Outcome(entry, outside)

    def import_to_label(self, path: Path) -> Outcome:
        """Keep the filled rows of a ``to_label.csv`` (which a run has just read through
        ``--labels-from``): its labels, new classes (``new:NAME``) and "none of these" rows
        (``!none``, whose images the run no longer lists) go into the label file, logged
        ``imported``, so the next rounds read them without the file."""
        rows = filled_rows(path)
        with self._mutex, labels_lock(self.target.csv):
            outside = self._catch_up()
            known = set(self.classes()) | set(run_labels(self.run)[1])  # the run's, new included
            for label in set(rows.values()) - {OUT_OF_SCOPE}:
                self._check_label(label, known)
            # the paths were checked against the data set by the run that read the file (a
            # row may name an image held out as the test set: not one of the run's keys)
            changes = [[k, self.rows.get(k), v] for k, v in rows.items() if self.label(k) != v]
            entry = self._apply("label", "imported", changes, self.extra_classes())
        return Outcome(entry, outside)

    def mark_out_of_scope(self, index: int) -> Outcome:
        """ "None of these": row ``index`` leaves propagation and the exports."""
        if self.target.fixed_classes is not None:
            raise InputError(
                "a benchmark set has fixed classes: every image is one of them, none is out of scope"
            )
        key = self._key(index)
        with self._mutex, labels_lock(self.target.csv):
            outside = self._catch_up()
            changes = (
                [[key, self.rows.get(key), OUT_OF_SCOPE]] if self.label(key) != OUT_OF_SCOPE else []
            )
            entry = self._apply("label", "typed", changes, self.extra_classes())
        return Outcome(entry, outside)

    def add_class(self, name: str) -> Outcome:
        name = self._check_new_name(name)
        with self._mutex, labels_lock(self.target.csv):
            outside = self._catch_up()
            if name in self.classes():
                raise InputError(f"class {name!r} exists already")
            entry = self._apply("add-class", "class", [], [*self.extra_classes(), name])
        return Outcome(entry, outside)

    def rename_class(self, old: str, new: str) -> Outcome:
        """Every image of ``old`` (rows and class folders) becomes ``new``, a new name."""
        new = self._check_new_name(new)
        with self._mutex, labels_lock(self.target.csv):
            outside = self._catch_up()
            if new in self.classes():
                raise InputError(f"class {new!r} exists already; merge into it instead")
            entry = self._move_class(old, new, "rename-class")
        return Outcome(entry, outside)

    def merge_classes(self, source: str, into: str) -> Outcome:
        """Every image of ``source`` becomes ``into``, an existing class."""
        with self._mutex, labels_lock(self.target.csv):
            outside = self._catch_up()
            if into not in self.classes():
                raise InputError(f"class {into!r} does not exist; rename instead")
            entry = self._move_class(source, into, "merge-classes")
        return Outcome(entry, outside)

    def undo(self) -> Outcome:
        """Undo the latest change not undone yet (also one made before a restart)."""
        with self._mutex, labels_lock(self.target.csv):
            outside = self._catch_up()
            entries = self.entries()
            last = label_log.last_undoable(entries)
            if last is None:
                raise InputError("nothing to undo")
            back = [[k, self.rows.get(k), before] for k, before, _ in reversed(last["changes"])]
            previous = [e for e in entries if e["id"] < last["id"]]
            extra = previous[-1].get("extra_classes", []) if previous else []
            entry = self._apply("undo", "undo", back, extra, undoes=last["id"])
        return Outcome(entry, outside)

    # -- helpers --------------------------------------------------------------------------------
    def _key(self, index: int) -> str:
        if not 0 <= index < len(self.target.keys):
            raise InputError(f"image {index} is not in this run (0-{len(self.target.keys) - 1})")
        return self.target.keys[index]

    def _check_label(self, label: str, known: set[str]) -> None:
        if label not in known:
            raise InputError(
                f"{label!r} is not a class ({', '.join(sorted(known)) or 'none yet'}); add it first"
            )

    def _check_new_name(self, name: str) -> str:
        if self.target.fixed_classes is not None:
            raise InputError("a benchmark set has fixed classes; they cannot be added or renamed")
        name = str(name).strip()
        if not name or name.startswith("!") or name.startswith("new:") or "/" in name:
            raise InputError(
                f"{name!r} cannot be a class name (empty, or starts with ! or new:, or has /)"
            )
        return name

    def _move_class(self, old: str, new: str, action: str) -> dict:
        if old not in self.classes():
            raise InputError(f"class {old!r} does not exist")
        changes = [[k, self.rows.get(k), new] for k in self.target.keys if self.label(k) == old]
        changes += [
            [k, v, new] for k, v in self.rows.items() if v == old and k not in self.target.keys
        ]
        # an image-less class keeps its place under its new name; merged, it is gone
        extra = [new if c == old else c for c in self.extra_classes()]
        extra = list(dict.fromkeys(c for c in extra if c != old))
        return self._apply(action, "class", changes, extra, classes=[old, new])

    def _catch_up(self) -> int:
        """Read the label file again when another program changed it since the log's last
        entry; log what it changed (``outside``) and return how many rows."""
        entries = self.entries()
        recorded, now = self._seen, _sha(self.target.csv)
        if recorded == now:
            return 0
        before = dict(self.rows)
        self._read()
        self._seen = now
        keys = sorted(set(before) | set(self.rows))
        changes = [
            [k, before.get(k), self.rows.get(k)] for k in keys if before.get(k) != self.rows.get(k)
        ]
        label_log.append(
            self.log_path,
            {
                "id": len(entries) + 1,
                "round": self._round(),
                "action": "external",
                "provenance": "outside",
                "changes": changes,
                "extra_classes": self.extra_classes(),
                "labels_sha256": now,
            },
        )
        return max(len(changes), 1)

    def _apply(self, action: str, provenance: str, changes: list, extra: list, **more) -> dict:
        """Write the rows with ``changes`` applied (atomically), then log them."""
        rows = dict(self.rows)
        for key, _, after in changes:
            if after is None:
                rows.pop(key, None)
            else:
                rows[key] = after
        if rows != self.rows:
            _write_rows(self.target.csv, rows)
        self.rows = rows
        self._seen = _sha(self.target.csv)
        entry = {
            "id": len(self.entries()) + 1,
            "round": self._round(),
            "action": action,
            "provenance": provenance,
            "changes": changes,
            "extra_classes": list(extra),
            "labels_sha256": self._seen,
            **more,
        }
        return label_log.append(self.log_path, entry)

    def _round(self) -> int:
        return int(read_run(self.run).get("round", 1))


def _read_keyed(path: Path) -> dict[str, str]:
    """``path,label`` rows of a label file beside a run, keyed by example name."""
    rows = read_rows(path)
    columns = header_index(rows[0], ("path", "label")) if rows else None
    body = rows[1:] if columns else rows
    columns = columns or {"path": 0, "label": 1}
    width = max(columns.values()) + 1
    return {
        r[columns["path"]]: r[columns["label"]]
        for r in body
        if len(r) >= width and r[columns["label"]]
    }


def filled_rows(path: Path) -> dict[str, str]:
    """{path: label} of the rows of a ``to_label.csv`` whose label is filled in (``new:NAME``
    read as NAME)."""
    named = {
        rel: label.strip().removeprefix(NEW_CLASS).strip()
        for _, rel, label, _ in filled_to_label(path)
    }
    return {rel: label for rel, label in named.items() if label}


def _write_rows(path: Path, rows: dict[str, str]) -> None:
    """The label file: a ``path,label`` header and one row per labeled image, atomically;
    no row left: no file (a label file naming no image is an error to its readers)."""
    if not rows:
        path.unlink(missing_ok=True)
        return
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["path", "label"])
        out.writerows([key, label] for key, label in rows.items())
