"""Exports to the tools people label with (issue 26), checked against what those tools read:
Label Studio's task import format, FiftyOne's FiftyOneImageClassificationDataset layout,
``<class>/`` folders; and Label Studio's JSON export back into the labels."""

import csv
import json
import math
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np
import pytest
from PIL import Image

from deeplabelprop.cli import main
from deeplabelprop.review.log import read_log
from deeplabelprop.review.store import LabelStore
from deeplabelprop.review.thumbs import Thumbnails
from tests.review.conftest import digits_run


def pseudo_rows(run):
    return {r["path"]: r for r in csv.DictReader(open(run / "pseudo_labels.csv"))}


def check_label_studio_task(task, classes):
    """A task as Label Studio's import reads it (data.image, annotations / predictions whose
    results are choices of a <Choices name="label" toName="image">, a numeric score)."""
    assert set(task) <= {"data", "annotations", "predictions"}
    assert isinstance(task["data"]["image"], str) and task["data"]["image"].startswith(
        "/data/local-files/?d="
    )
    for kind in ("annotations", "predictions"):
        assert isinstance(task[kind], list)
        for item in task[kind]:
            assert isinstance(item["result"], list) and len(item["result"]) == 1
            result = item["result"][0]
            assert result["from_name"] == "label" and result["to_name"] == "image"
            assert result["type"] == "choices" and result["value"]["choices"][0] in classes
            if kind == "predictions":
                assert isinstance(item["score"], float) and math.isfinite(item["score"])
                assert 0.0 <= item["score"] <= 1.0


def test_label_studio_tasks(shared_run, tmp_path, capsys):
    root, run = shared_run
    out = tmp_path / "tasks.json"
    assert (
        main(
            [
                "export",
                str(run),
                "--format",
                "label-studio",
                "--min-confidence",
                "0.9",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    said = capsys.readouterr().out
    document_root = Path(said.split("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=")[1].split(",")[0])
    assert '<Choices name="label" toName="image"' in said
    tasks = json.loads(out.read_text())
    rows = pseudo_rows(run)
    assert len(tasks) == len(rows) == 90  # every image, labeled or not
    for task in tasks:
        check_label_studio_task(task, {"one", "two", "zero"})
        row = rows[task["data"]["key"]]
        path = unquote(parse_qs(urlparse(task["data"]["image"]).query)["d"][0])
        assert (document_root / path).resolve() == (root / row["path"]).resolve()
        if row["given"] == "1":
            assert task["annotations"][0]["result"][0]["value"]["choices"] == [row["label"]]
        if float(row["confidence"]) >= 0.9:
            prediction = task["predictions"][0]
            assert prediction["result"][0]["value"]["choices"] == [row["label"]]
            assert prediction["score"] == pytest.approx(float(row["confidence"]), abs=1e-4)
        else:
            assert task["predictions"] == []  # below the threshold: the image stays, unlabeled
    kept = sum(bool(t["predictions"]) for t in tasks)
    assert kept == sum(float(r["confidence"]) >= 0.9 for r in rows.values()) and 0 < kept < 90


def label_studio_export(tasks, choose):
    """What Label Studio's "JSON" export gives after a person annotated some tasks: the tasks
    with ids, and annotations with ids, times, cancellations and choices results."""
    out = []
    for number, task in enumerate(tasks, start=1):
        exported = {"id": number, "data": task["data"], "annotations": [], "predictions": []}
        label = choose(task)
        if label is not None:
            exported["annotations"] = [
                {
                    "id": 2 * number,
                    "was_cancelled": False,
                    "created_at": "2026-12-07T10:00:00Z",
                    "updated_at": "2026-12-07T10:00:00Z",
                    "lead_time": 3.2,
                    "result": [
                        {
                            "id": "a1",
                            "from_name": "label",
                            "to_name": "image",
                            "type": "choices",
                            "origin": "manual",
                            "value": {"choices": ["zero"]},
                        }
                    ],
                },
                {
                    "id": 2 * number + 1,
                    "was_cancelled": False,
                    "created_at": "2026-12-07T11:00:00Z",
                    "updated_at": "2026-12-07T11:00:00Z",
                    "result": [
                        {
                            "id": "a2",
                            "from_name": "label",
                            "to_name": "image",
                            "type": "choices",
                            "origin": "manual",
                            "value": {"choices": [label]},
                        }
                    ],
                },
                {
                    "id": 9999 + number,
                    "was_cancelled": True,
                    "updated_at": "2026-12-07T12:00:00Z",
                    "result": [
                        {
                            "from_name": "label",
                            "to_name": "image",
                            "type": "choices",
                            "value": {"choices": ["one"]},
                        }
                    ],
                },
            ]
        exported["data"] = dict(task["data"])
        exported["data"].pop("key")  # matched by the local-file path alone
        out.append(exported)
    return out


def test_label_studio_annotations_come_back_with_provenance(fresh_run, tmp_path, capsys):
    root, run = fresh_run
    tasks_file = tmp_path / "tasks.json"
    main(["export", str(run), "--format", "label-studio", "-o", str(tasks_file)])
    tasks = json.loads(tasks_file.read_text())
    chosen = {
        t["data"]["key"]: "two" for t in tasks if t["data"]["key"].startswith("unlabeled/batch1")
    }
    chosen = dict(list(chosen.items())[:5])
    exported = tmp_path / "project-1-at-2026-12-07.json"
    exported.write_text(
        json.dumps(label_studio_export(tasks, lambda t: chosen.get(t["data"]["key"])))
    )
    assert main(["import", str(run), str(exported)]) == 0
    assert "imported 5 annotation(s)" in capsys.readouterr().out
    named = {r["path"]: r["label"] for r in csv.DictReader(open(root / "labels.csv"))}
    assert named == chosen  # the latest annotation that was not cancelled
    log = read_log(root / "labels.log.jsonl")
    assert [e["provenance"] for e in log] == ["imported"] and len(log[0]["changes"]) == 5
    # a class the run does not have: refused with the task named, nothing written
    bad = label_studio_export(
        tasks[:12], lambda t: "seven" if t["data"]["key"].startswith("unl") else None
    )
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert main(["import", str(run), str(tmp_path / "bad.json")]) == 2
    assert "'seven' is not a class" in capsys.readouterr().err
    assert len(read_log(root / "labels.log.jsonl")) == 1


def test_fiftyone_image_classification_dataset(shared_run, tmp_path):
    root, run = shared_run
    out = tmp_path / "fo"
    assert (
        main(
            ["export", str(run), "--format", "fiftyone", "--min-confidence", "0.9", "-o", str(out)]
        )
        == 0
    )
    labels = json.loads((out / "labels.json").read_text())
    assert set(labels) == {"classes", "labels"} and labels["classes"] == ["one", "two", "zero"]
    rows = list(csv.DictReader(open(run / "pseudo_labels.csv")))
    files = {p.stem: p for p in (out / "data").iterdir()}
    assert set(files) == set(labels["labels"]) and len(files) == 90
    for uuid, target in labels["labels"].items():
        row = rows[int(uuid)]
        assert files[uuid].resolve() == (root / row["path"]).resolve()  # a link to the image
        if row["given"] == "1":
            assert target == {"label": labels["classes"].index(row["label"]), "confidence": 1.0}
        elif float(row["confidence"]) >= 0.9:
            assert labels["classes"][target["label"]] == row["label"]
            assert target["confidence"] == pytest.approx(float(row["confidence"]), abs=1e-4)
        else:
            assert target is None


def test_fiftyone_itself_imports_the_export(shared_run, tmp_path):
    fo = pytest.importorskip("fiftyone", reason="optional: pip install fiftyone (its database)")
    root, run = shared_run
    assert main(["export", str(run), "--format", "fiftyone", "-o", str(tmp_path / "fo")]) == 0
    dataset = fo.Dataset.from_dir(str(tmp_path / "fo"), fo.types.FiftyOneImageClassificationDataset)
    assert len(dataset) == 90 and dataset.first().ground_truth.confidence is not None


def test_folders_of_links_or_copies(shared_run, tmp_path):
    root, run = shared_run
    rows = list(csv.DictReader(open(run / "pseudo_labels.csv")))
    for copy in (False, True):
        out = tmp_path / f"folders-{copy}"
        args = [
            "export",
            str(run),
            "--format",
            "folders",
            "--min-confidence",
            "0.9",
            "-o",
            str(out),
        ]
        assert main(args + (["--copy"] if copy else [])) == 0
        placed = {p.relative_to(out).parts[0]: [] for p in out.glob("*/*")}
        for p in out.glob("*/*"):
            placed[p.parent.name].append(p)
            assert p.is_symlink() != copy
        expected = [r for r in rows if r["given"] == "1" or float(r["confidence"]) >= 0.9]
        assert sum(len(v) for v in placed.values()) == len(expected)
        for r in expected:
            target = out / r["label"] / r["path"].replace("/", "__")
            assert target.read_bytes() == (root / r["path"]).read_bytes()
        listed = (out / "unlabeled.txt").read_text().split()
        assert sorted(listed) == sorted(r["path"] for r in rows if r not in expected)
    assert (
        main(["export", str(run), "--format", "folders", "-o", str(tmp_path / "folders-True")]) == 2
    )


def test_a_data_set_of_arrays_is_exported_as_images(tmp_path):
    run = digits_run(tmp_path / "run")
    out = tmp_path / "fo"
    assert main(["export", str(run), "--format", "fiftyone", "-o", str(out)]) == 0
    thumbs = Thumbnails(run, LabelStore(run).target.keys, None, "digits")
    first = np.asarray(Image.open(out / "data" / "0.png"))
    assert np.array_equal(first, np.asarray(thumbs.image(0)))
    assert (
        main(["export", str(run), "--format", "label-studio", "-o", str(tmp_path / "t.json")]) == 0
    )
    tasks = json.loads((tmp_path / "t.json").read_text())
    path = unquote(parse_qs(urlparse(tasks[5]["data"]["image"]).query)["d"][0])
    assert np.array_equal(np.asarray(Image.open(tmp_path / path)), np.asarray(thumbs.image(5)))
