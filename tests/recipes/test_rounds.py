"""The labeling loop's rerun (issue 25 item 1): a stage is identified by its settings *and* what
it reads. After labels are added, a rerun of the same command reruns exactly the stages that
read labels, keeps the metric, says so in one line, keeps each round, and gives what a fresh
run with the same labels gives."""

import csv
import json
import logging
import shutil

import numpy as np

from deeplabelprop.recipes import run_dmt
from tests.data.test_folder import NAMES, png, user_folder
from tests.recipes.test_user_folder import small


def add_labels(root, n):
    """Label ``n`` more images of each class in ``labels.csv`` beside the class folders, as a
    spreadsheet saves it (their class is in the file name the fixture gave them:
    x<class>_<j>.png); the files stay where they are."""
    rows = ["path;label"]
    for c, name in enumerate(NAMES):
        for p in sorted((root / "unlabeled").rglob(f"x{c}_*.png"))[:n]:
            rows.append(f"{p.relative_to(root)};{name}")
    (root / "labels.csv").write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode())
    return len(rows) - 1


def rerun_lines(caplog, cfg, run) -> list[str]:
    """Run ``cfg`` into ``run`` and return the lines that said what reran."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deeplabelprop"):
        run_dmt(cfg, run)
    return [r.message for r in caplog.records if "rerunning" in r.message]


def pseudo(run):
    return {
        r["path"]: (r["label"], r["confidence"])
        for r in csv.DictReader(open(run / "pseudo_labels.csv"))
    }


def test_new_labels_rerun_what_reads_them_and_keep_the_metric(tmp_path, caplog):
    root = user_folder(tmp_path / "photos")
    run = tmp_path / "run"
    run_dmt(small(root), run)
    first = pseudo(run)
    encoder = (run / "metric" / "encoder.pt").read_bytes()
    metric_time = json.loads((run / "run.json").read_text())["stages"]["metric"]["seconds"]
    add_labels(root, 2)
    said = rerun_lines(caplog, small(root), run)
    assert said == [
        "labels: 6 added, 0 changed, 0 removed; keeping metric; rerunning propagate, finetune "
        "(round 2)"
    ]
    record = json.loads((run / "run.json").read_text())
    assert record["round"] == 2 and record["stages"]["metric"]["seconds"] == metric_time
    assert (run / "metric" / "encoder.pt").read_bytes() == encoder  # the metric was kept
    second = pseudo(run)
    assert second != first
    given = [r for r in csv.DictReader(open(run / "pseudo_labels.csv")) if r["given"] == "1"]
    assert len(given) == 15
    # each round's pseudo labels are kept
    assert pseudo(run / "rounds" / "1") == first and pseudo(run / "rounds" / "2") == second
    # the same labels from scratch, with the kept metric's encoder: the same pseudo labels
    fresh = tmp_path / "fresh"
    cfg = small(
        root, metric={"source": "checkpoint", "checkpoint": str(run / "metric" / "encoder.pt")}
    )
    run_dmt(cfg, fresh)
    assert pseudo(fresh) == second
    # nothing changed: nothing reruns
    assert rerun_lines(caplog, small(root), run) == []
    assert json.loads((run / "run.json").read_text())["round"] == 2


def test_a_relabeled_and_a_removed_image_are_said_and_rerun(tmp_path, caplog):
    root = user_folder(tmp_path / "photos")
    run = tmp_path / "run"
    run_dmt(small(root), run)
    moved = root / "labeled" / "zero" / "img0.png"
    shutil.move(moved, root / "labeled" / "one" / "img0-was-zero.png")  # relabeled (new name)
    (root / "unlabeled" / "batch0" / "x0_004.png").unlink()  # an image removed
    png(root / "unlabeled" / "new.png", np.zeros((16, 16), np.uint8))  # an image added
    said = rerun_lines(caplog, small(root), run)
    assert said == [
        "images: 2 added, 2 removed; labels: 1 added, 0 changed, 1 removed; embedding the "
        "images with the kept metric; rerunning propagate, finetune (round 2)"
    ]


def test_new_images_are_embedded_with_the_kept_metric_or_it_retrains(tmp_path, caplog):
    """Issue 25: images added to a folder rerun what reads them; a label-free metric keeps its
    encoder and embeds the new list (metric.new_images = "embed", the default), or trains again
    (= "retrain")."""
    root = user_folder(tmp_path / "photos")
    run = tmp_path / "run"
    run_dmt(small(root), run)
    encoder = (run / "metric" / "encoder.pt").read_bytes()
    n = np.load(run / "metric" / "features.npy").shape[0]
    png(root / "unlabeled" / "new one.png", np.full((16, 16), 200, np.uint8))
    said = rerun_lines(caplog, small(root), run)
    assert said == [
        "images: 1 added, 0 removed; embedding the images with the kept metric; rerunning "
        "propagate, finetune (round 2)"
    ]
    assert (run / "metric" / "encoder.pt").read_bytes() == encoder
    assert np.load(run / "metric" / "features.npy").shape[0] == n + 1
    assert "unlabeled/new one.png" in pseudo(run)
    # the same features as embedding every image with that encoder from scratch
    fresh = tmp_path / "fresh"
    run_dmt(
        small(
            root, metric={"source": "checkpoint", "checkpoint": str(run / "metric" / "encoder.pt")}
        ),
        fresh,
    )
    np.testing.assert_array_equal(
        np.load(fresh / "metric" / "features.npy"), np.load(run / "metric" / "features.npy")
    )
    # retrain instead
    (root / "unlabeled" / "new one.png").unlink()
    other = tmp_path / "other"
    run_dmt(small(root, metric={"new_images": "retrain"}), other)
    png(root / "unlabeled" / "new two.png", np.full((16, 16), 90, np.uint8))
    said = rerun_lines(caplog, small(root, metric={"new_images": "retrain"}), other)
    assert said == ["images: 1 added, 0 removed; rerunning metric, propagate, finetune (round 2)"]
