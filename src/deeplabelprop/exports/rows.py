"""What every export writes: one row per image of the run, with the person's own label (as the
labels are now) and the pseudo label with its calibrated confidence. Images marked "none of
these" are left out; a pseudo label below ``min_confidence`` is left out, the image stays."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..data.tables import OUT_OF_SCOPE
from ..errors import InputError
from ..review.store import LabelStore
from ..review.thumbs import Thumbnails
from ..review.views import RunState


@dataclass(frozen=True)
class ExportRow:
    """``row`` in the run; ``key`` its name; ``label`` the person's label (None: none);
    ``pseudo`` and ``confidence`` the pseudo label (None below the threshold)."""

    row: int
    key: str
    label: str | None
    pseudo: str | None
    confidence: float | None


@dataclass(frozen=True)
class Export:
    """The rows, the classes, the round, and where each image's file is (:meth:`source`)."""

    rows: list[ExportRow]
    classes: list[str]
    round: int
    root: Path | None
    thumbs: Thumbnails

    def suffix(self, row: ExportRow) -> str:
        """The file ending of ``row``'s image as exported (arrays are written as PNG)."""
        return Path(row.key).suffix.lower() if self.root is not None else ".png"

    def place(self, row: ExportRow, target: Path, copy: bool = False) -> None:
        """Put ``row``'s image at ``target``: a symbolic link to the data set's own file (a
        copy with ``copy``), or, for a data set of arrays, the image written as PNG."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.root is None:
            image: Image.Image = self.thumbs.image(row.row)
            image.save(target, format="PNG")
        elif copy:
            shutil.copyfile(self.root / row.key, target)
        else:
            target.symlink_to((self.root / row.key).resolve())


def export_rows(run: str | Path, min_confidence: float = 0.0) -> Export:
    """The rows of run folder ``run`` to export (see the module docstring)."""
    if not 0.0 <= min_confidence <= 1.0:
        raise InputError(f"--min-confidence must lie in [0, 1], not {min_confidence}")
    state = RunState.load(run)
    if state.result is None:
        raise InputError(f"{run} has no pseudo labels yet (status {state.record['status']})")
    store = LabelStore(run)
    rows = []
    for i, key in enumerate(state.names):
        label = store.label(key)
        if label == OUT_OF_SCOPE:
            continue
        confidence = float(state.result.confidence[i])
        if not math.isfinite(confidence):
            raise InputError(f"{run}: the confidence of row {i} is not a number; run it again")
        keep = confidence >= min_confidence
        pseudo = state.classes[int(state.result.labels[i])] if keep else None
        rows.append(ExportRow(i, key, label, pseudo, round(confidence, 6) if keep else None))
    classes = list(dict.fromkeys([*state.classes, *store.classes()]))
    data = state.record["data"]
    thumbs = Thumbnails(
        state.run,
        state.names,
        store.target.root,
        data["dataset"],
        data.get("options", {}).get("data_dir"),
    )
    return Export(rows, classes, state.round, store.target.root, thumbs)
