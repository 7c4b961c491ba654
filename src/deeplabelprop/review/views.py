"""What each view of the review page shows, as plain data (the page renders it). Pure reads of
a run folder and of the labels as they are now; nothing here writes.

* :func:`overview`: estimated accuracy per round, counts per class, the confidence histogram,
  what changed since the last round;
* :func:`class_page`: one class's pseudo-labeled images, least confident first, a page at a time;
* :func:`label_next`: ``suggest``'s list, each image with its guess;
* :func:`check`: the given labels that look wrong, beside their out-of-fold guess.

The page never receives the whole listing: every list is a page of at most ``PAGE`` images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._runfile import read_run
from ..errors import InputError
from ..propagation import PropagationResult
from ..selection import suggest
from .store import LabelStore

PAGE = 50
HISTOGRAM_BINS = 20
SUGGEST_N = 20
SUGGEST_AUDIT = 3


@dataclass
class RunState:
    """A run's last round as the page reads it: labels, pseudo labels, features."""

    run: Path
    record: dict
    given: np.ndarray
    classes: list[str]
    names: list[str]
    result: PropagationResult | None
    _suggested: dict = field(default_factory=dict)

    @classmethod
    def load(cls, run: str | Path) -> RunState:
        run = Path(run)
        record = read_run(run)
        outputs = record["outputs"]
        if "labels" not in outputs:
            raise InputError(f"{run} has no labels yet (status {record['status']}); run it first")
        with np.load(run / outputs["labels"], allow_pickle=False) as z:
            given, classes = z["given"], [str(c) for c in z["classes"]]
            names = [str(n) for n in z["names"]]
        pseudo = outputs.get("pseudo_labels")
        result = PropagationResult.load(run / pseudo)[0] if pseudo else None
        return cls(run, record, given, classes, names, result)

    @property
    def round(self) -> int:
        return int(self.record.get("round", 1))

    def item(self, i: int, store: LabelStore, **more) -> dict:
        """One image as a card: its index, key, pseudo label (guess) with its confidence and
        the label a person gave it (now, with this round's changes)."""
        guess, confidence = None, None
        if self.result is not None:
            guess = self.classes[int(self.result.labels[i])]
            confidence = round(float(self.result.confidence[i]), 4)
        return {
            "index": int(i),
            "key": self.names[i],
            "guess": guess,
            "confidence": confidence,
            "label": store.label(self.names[i]),
            **more,
        }


def _rounds(run: Path) -> list[dict]:
    """Each kept round: its number, labels given and estimated accuracy."""
    out = []
    folders = sorted(
        (p for p in (run / "rounds").glob("*") if p.name.isdigit()), key=lambda p: int(p.name)
    )
    for folder in folders:
        entry = {"round": int(folder.name), "estimated_accuracy": None, "n_given": None}
        if (folder / "results.json").is_file():
            results = json.loads((folder / "results.json").read_text())
            entry["estimated_accuracy"] = results.get("estimated_accuracy")
        if (folder / "labels.npz").is_file():
            with np.load(folder / "labels.npz", allow_pickle=False) as z:
                entry["n_given"] = int((z["given"] >= 0).sum())
        out.append(entry)
    return out


def overview(state: RunState, store: LabelStore) -> dict:
    """The overview: rounds, classes with counts, the confidence histogram, changes."""
    pseudo = np.zeros(len(state.classes), dtype=np.int64)
    histogram = [0] * HISTOGRAM_BINS
    if state.result is not None:
        pseudo = np.bincount(state.result.labels, minlength=len(state.classes))
        free = state.result.confidence[~state.result.labeled]
        histogram = np.histogram(free, bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0].tolist()
    counts = store.counts()
    names = list(dict.fromkeys([*state.classes, *store.classes()]))
    classes = [
        {
            "name": c,
            "given": counts.get(c, 0),
            "pseudo": int(pseudo[state.classes.index(c)]) if c in state.classes else 0,
        }
        for c in names
    ]
    pending = [e for e in store.entries() if e.get("round") == state.round]
    notes = state.record.get("notes", [])
    return {
        "round": state.round,
        "status": state.record.get("status"),
        "rounds": _rounds(state.run),
        "classes": classes,
        "store_classes": store.classes(),
        "out_of_scope": counts.get("!none", 0),
        "histogram": histogram,
        "n_images": len(state.names),
        "since_last_round": notes[-1] if notes and state.round > 1 else None,
        "pending_changes": sum(len(e["changes"]) for e in pending),
        "labels_file": str(store.target.csv),
    }


def class_page(state: RunState, store: LabelStore, name: str, page: int = 0) -> dict:
    """The images propagation put in class ``name``, least confident first, page ``page``."""
    if name not in state.classes:
        return {"class": name, "total": 0, "page": 0, "items": []}
    if state.result is None:
        raise InputError(f"{state.run} has no pseudo labels yet")
    rows = np.flatnonzero(state.result.labels == state.classes.index(name))
    rows = rows[np.argsort(state.result.confidence[rows], kind="stable")]
    return _paged(state, store, rows, page, {"class": name})


def _paged(state: RunState, store: LabelStore, rows: np.ndarray, page: int, head: dict, **more):
    page = max(int(page), 0)
    chosen = rows[page * PAGE : (page + 1) * PAGE]
    first = page * PAGE
    items = [
        state.item(int(i), store, **{k: v[first + j] for k, v in more.items()})
        for j, i in enumerate(chosen)
    ]
    return {**head, "total": int(rows.size), "page": page, "page_size": PAGE, "items": items}


def label_next(state: RunState, store: LabelStore) -> dict:
    """``suggest``'s list for this round (computed once per round), with each image's guess."""
    if "rows" not in state._suggested:
        outputs = state.record["outputs"]
        if "features" not in outputs:
            raise InputError(f"{state.run} has no features yet; run it to the end first")
        features = np.load(state.run / outputs["features"], mmap_mode="r")
        unlabeled = int((state.given < 0).sum())
        n = max(min(SUGGEST_N, unlabeled - SUGGEST_AUDIT), 0)
        chosen = suggest(
            np.asarray(features, dtype=np.float32),
            state.given,
            n,
            result=state.result,
            audit=min(SUGGEST_AUDIT, unlabeled - n),
        )
        state._suggested = {"rows": chosen.index, "reasons": list(chosen.reason)}
    rows, reasons = state._suggested["rows"], state._suggested["reasons"]
    return _paged(state, store, rows, 0, {"view": "next"}, reason=reasons)


def drawn_at_random(state: RunState, index: int) -> bool:
    """Row ``index`` is one of the audit rows of this round's "Label next" list."""
    suggested = state._suggested
    if "rows" not in suggested:
        return False
    at = np.flatnonzero(np.asarray(suggested["rows"]) == index)
    return bool(at.size) and suggested["reasons"][int(at[0])] == "audit"


def check(state: RunState, store: LabelStore) -> dict:
    """The given labels that look wrong, most doubtful first, beside their out-of-fold guess."""
    if state.result is None:
        return {"view": "check", "total": 0, "page": 0, "items": []}
    issues = state.result.label_issues()
    rows = np.flatnonzero(issues.suspect)
    rows = rows[np.argsort(-issues.score[rows], kind="stable")]
    oof = [state.classes[int(issues.oof_label[i])] for i in rows]
    score = [round(float(issues.score[i]), 4) for i in rows]
    return _paged(state, store, rows, 0, {"view": "check"}, oof_guess=oof, suspect_score=score)
