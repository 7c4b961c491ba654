"""A FiftyOne image classification dataset (``fo.types.FiftyOneImageClassificationDataset``):

    OUT/data/<row>.<ext>    the images (symbolic links to the data set's files, or copies)
    OUT/labels.json         {"classes": [...], "labels": {"<row>": {"label": <class index>,
                             "confidence": <calibrated confidence>} or null}}

A person's own label is written with confidence 1.0; an image whose pseudo label is below the
threshold, or that has none, is written with ``null`` (imported without a label). Load it with
``fo.Dataset.from_dir(OUT, fo.types.FiftyOneImageClassificationDataset)``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_path
from .folders import fresh_folder
from .rows import export_rows


def export_fiftyone(
    run: str | Path, output: str | Path, *, min_confidence: float = 0.0, copy: bool = False
) -> dict:
    """Write run ``run`` as a FiftyOne image classification dataset in folder ``output``."""
    output = fresh_folder(output)
    export = export_rows(run, min_confidence)
    classes = export.classes
    labels = {}
    for row in export.rows:
        name = str(row.row)
        export.place(row, output / "data" / f"{name}{export.suffix(row)}", copy)
        if row.label is not None:
            labels[name] = {"label": classes.index(row.label), "confidence": 1.0}
        elif row.pseudo is not None:
            labels[name] = {"label": classes.index(row.pseudo), "confidence": row.confidence}
        else:
            labels[name] = None
    with atomic_path(output / "labels.json") as tmp:
        tmp.write_text(
            json.dumps({"classes": classes, "labels": labels}, indent=1), encoding="utf-8"
        )
    return {"images": len(labels), "labeled": sum(v is not None for v in labels.values())}
