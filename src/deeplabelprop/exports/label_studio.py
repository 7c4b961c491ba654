"""Label Studio tasks (JSON import) and Label Studio's JSON export back into the labels.

Each task is ``{"data": {"image": URL, "key": KEY, "row": ROW}, "annotations": [...],
"predictions": [...]}``: the person's own label as an annotation, the pseudo label as a
prediction whose ``score`` is its calibrated confidence (a number, never NaN) and whose
``choices`` are class names, for a labeling config with ``<Choices name="label"
toName="image">``. Images are Label Studio local-file URLs, ``/data/local-files/?d=PATH``,
PATH relative to the document root the export prints (``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``):
the parent of the image folder, or, for a data set of arrays, the folder of PNGs written beside
the JSON file.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

from ..atomic import atomic_path
from ..errors import InputError
from ..review.store import LabelStore
from .rows import export_rows

FROM_NAME, TO_NAME = "label", "image"


def labeling_config(classes: list[str]) -> str:
    """The Label Studio labeling config the tasks are written for."""
    choices = "\n".join(f'    <Choice value="{_xml(c)}"/>' for c in classes)
    return (
        f'<View>\n  <Image name="{TO_NAME}" value="$image"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single">\n{choices}\n'
        "  </Choices>\n</View>\n"
    )


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _choice(label: str) -> dict:
    return {
        "from_name": FROM_NAME,
        "to_name": TO_NAME,
        "type": "choices",
        "value": {"choices": [label]},
    }


def export_label_studio(
    run: str | Path, output: str | Path, *, min_confidence: float = 0.0, copy: bool = False
) -> dict:
    """Write run ``run``'s tasks to JSON file ``output``; returns what to tell the person
    (document root, labeling config, counts). ``copy`` does not apply: Label Studio serves the
    image files where they are (arrays are written as PNGs beside ``output``)."""
    output = Path(output)
    export = export_rows(run, min_confidence)
    if export.root is not None:
        document_root, prefix = export.root.resolve().parent, export.root.resolve().name
    else:
        document_root, prefix = output.resolve().parent, f"{output.stem}-images"
    tasks = []
    for row in export.rows:
        if export.root is None:
            rel = f"{prefix}/{row.row}.png"
            export.place(row, document_root / rel)
        else:
            rel = f"{prefix}/{row.key}"
        task = {
            "data": {"image": f"/data/local-files/?d={quote(rel)}", "key": row.key, "row": row.row},
            "annotations": [],
            "predictions": [],
        }
        if row.label is not None:
            task["annotations"].append({"result": [_choice(row.label)], "ground_truth": False})
        if row.pseudo is not None:
            task["predictions"].append(
                {
                    "model_version": f"deeplabelprop round {export.round}",
                    "score": row.confidence,
                    "result": [_choice(row.pseudo)],
                }
            )
        tasks.append(task)
    with atomic_path(output) as tmp:
        tmp.write_text(json.dumps(tasks, indent=1, ensure_ascii=False), encoding="utf-8")
    return {
        "tasks": len(tasks),
        "predictions": sum(bool(t["predictions"]) for t in tasks),
        "annotations": sum(bool(t["annotations"]) for t in tasks),
        "document_root": str(document_root),
        "config": labeling_config(export.classes),
    }


def _task_key(task: dict, known: set[str]) -> str | None:
    """The run's key of a task: its ``key``, else the path of its local-file URL."""
    data = task.get("data", {}) if isinstance(task, dict) else {}
    if isinstance(data.get("key"), str) and data["key"] in known:
        return data["key"]
    url = data.get("image")
    if isinstance(url, str):
        path = (parse_qs(urlparse(url).query).get("d") or [""])[0]
        parts = Path(path).parts
        for start in range(len(parts)):
            candidate = str(Path(*parts[start:])) if parts[start:] else ""
            if candidate in known:
                return candidate
    return None


def _annotated_label(task: dict) -> str | None:
    """The choice of a task's latest annotation that was not cancelled (None: none)."""
    done = [a for a in task.get("annotations", []) if not a.get("was_cancelled")]
    done.sort(
        key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), a.get("id") or 0)
    )
    for annotation in reversed(done):
        for result in annotation.get("result", []):
            choices = result.get("value", {}).get("choices") if isinstance(result, dict) else None
            if result.get("type") == "choices" and choices:
                return str(choices[0])
    return None


def import_label_studio(run: str | Path, tasks_file: str | Path) -> dict:
    """Take the annotations of a Label Studio JSON export into run ``run``'s labels (one
    logged change, provenance ``imported``); returns counts."""
    tasks_file = Path(tasks_file)
    try:
        tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{tasks_file} cannot be read as Label Studio's JSON export ({exc})"
        ) from exc
    if not isinstance(tasks, list):
        raise InputError(f"{tasks_file} is not Label Studio's JSON export (a list of tasks)")
    store = LabelStore(run)
    known = set(store.target.keys)
    labels, unmatched = {}, 0
    for number, task in enumerate(tasks, start=1):
        label = _annotated_label(task) if isinstance(task, dict) else None
        if label is None:
            continue
        key = _task_key(task, known)
        if key is None:
            unmatched += 1
            continue
        if label not in store.classes():
            raise InputError(
                f"{tasks_file}, task {number} ({key}): {label!r} is not a class of the run "
                f"({', '.join(store.classes())}); add it in the review page first"
            )
        labels[key] = label
    if unmatched:
        raise InputError(
            f"{tasks_file}: {unmatched} annotated task(s) name no image of {run} (by data.key or "
            "the local-file path); export the tasks from this run"
        )
    changed = [k for k, v in labels.items() if store.label(k) != v]
    outcome = store.set_labels(labels, "imported")
    return {"annotated": len(labels), "changed": len(changed), "outside": outcome.outside}
