"""``deeplabelprop report``: the figures and tables of one or more runs, as Markdown and HTML.

A run is a recipe's run directory (read through its ``run.json``, whatever the recipe) or the
pseudo-label ``.npz`` of ``deeplabelprop propagate`` (with an optional truth file). Every figure
a run has the data for is drawn; the others are listed with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...atomic import atomic_path
from ...errors import InputError
from .document import Heading, Notes, Table, to_html, to_markdown
from .figures import confidence_figures, embedding_figures, epoch_figure, mistake_figures
from .load import Run, load_run
from .tables import per_class, summary

__all__ = ["Run", "build_report", "load_run", "per_class", "summary"]


def build_report(paths, out_dir, *, truth=None, embedding: str = "pca") -> dict:
    """Write report.md, report.html (images embedded), report.json and the PNGs into
    ``out_dir``; returns the tables (the content of report.json)."""
    if embedding not in ("pca", "tsne"):
        raise InputError(f"embedding must be pca or tsne, got {embedding!r}")
    runs = [load_run(p, truth) for p in paths]
    seen: dict[str, int] = {}
    for r in runs:  # unique names for the figure files
        seen[r.name] = seen.get(r.name, 0) + 1
        if seen[r.name] > 1:
            r.name = f"{r.name}-{seen[r.name]}"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "summary": [summary(r) for r in runs],
        "per_class": {r.name: per_class(r) for r in runs},
    }
    blocks: list = [
        Heading("deeplabelprop report", 1),
        Heading("Final metrics"),
        Table(tables["summary"]),
    ]
    for r in runs:
        for title, rows in r.tables.items():  # a recipe's own tables (fewshot: Tables 6-7)
            blocks += [Heading(f"{r.name}: {title}"), Table(rows)]
        blocks += [Heading(f"{r.name}: per class"), Table(tables["per_class"][r.name])]
        if r.notes:
            blocks.append(Notes([f"{r.name}: {n}" for n in r.notes]))
    notes: list[str] = []
    blocks.append(Heading("Figures"))
    for draw in (
        lambda: confidence_figures(runs, out),
        lambda: epoch_figure(runs, out),
        lambda: embedding_figures(runs, out, embedding),
        lambda: mistake_figures(runs, out),
    ):
        figs, why = draw()
        blocks += figs
        notes += why
    if notes:
        blocks += [Heading("Not drawn"), Notes(notes)]
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(to_markdown(blocks))
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(to_html(blocks))
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(tables, indent=1))
    return tables
