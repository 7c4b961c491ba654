"""``<class>/`` trees for training elsewhere: OUT/<class>/<file> for every image with a label
(the person's own, else its pseudo label at or above the threshold), as symbolic links to the
data set's files by default (``copy``: copies). Images left without a label are listed in
``OUT/unlabeled.txt``, one key per line, not placed in any class folder."""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_path
from ..errors import InputError
from .rows import export_rows


def fresh_folder(output: str | Path) -> Path:
    """``output``, a new or empty folder (an export never mixes with older files)."""
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise InputError(f"{output} exists and is not empty; export to a new folder (-o)")
    output.mkdir(parents=True, exist_ok=True)
    return output


def folder_name(label: str) -> str:
    """``label`` as a folder name; one that would leave the export's folder is refused."""
    if label in ("", ".", "..") or "/" in label or "\\" in label:
        raise InputError(f"class {label!r} cannot be a folder name; rename it in the review page")
    return label


def export_folders(
    run: str | Path, output: str | Path, *, min_confidence: float = 0.0, copy: bool = False
) -> dict:
    """Write run ``run`` as ``<class>/`` folders under ``output``."""
    output = fresh_folder(output)
    export = export_rows(run, min_confidence)
    unlabeled, placed = [], 0
    for row in export.rows:
        label = row.label if row.label is not None else row.pseudo
        if label is None:
            unlabeled.append(row.key)
            continue
        name = row.key.replace("/", "__") if export.root is not None else f"{row.row}.png"
        export.place(row, output / folder_name(label) / name, copy)
        placed += 1
    with atomic_path(output / "unlabeled.txt") as tmp:
        tmp.write_text("".join(f"{k}\n" for k in unlabeled), encoding="utf-8")
    return {"placed": placed, "unlabeled": len(unlabeled)}
