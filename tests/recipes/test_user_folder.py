"""The main job (issue 17): a user's folder of images, a few labeled, in; pseudo labels by file
and a classifier that ``predict`` applies to new images, out."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from deeplabelprop.cli import main
from deeplabelprop.recipes import dmt as dmt_module
from deeplabelprop.recipes import run_dmt
from deeplabelprop.train import load_checkpoint
from tests.conftest import recipe_config
from tests.data.test_folder import NAMES, user_folder

DIGITS = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "deeplabelprop"
    / "configs"
    / "digits"
    / "dmt.toml"
)


def small(root, **over):
    data = {
        "dataset": f"folder:{root}",
        "image_size": 16,
        "width": 4,
        "metric": {"epochs": 2, "batch_size": 32},
        "propagate": {"method": "spectral", "n_neighbors": 8, "n_components": 10},
        "finetune": {"epochs": 2, "batch_size": 16},
    }
    return recipe_config("dmt", data, over)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("user")
    root = user_folder(base / "photos")
    run_dmt(small(root), base / "run")
    return root, base / "run"


def test_pseudo_labels_csv_has_one_row_per_file(folder_run):
    root, run = folder_run
    rows = list(csv.DictReader(open(run / "pseudo_labels.csv")))
    files = sorted(
        str(p.relative_to(root)) for p in root.rglob("*.png") if p.parts[len(root.parts)] != "test"
    )
    assert sorted(r["path"] for r in rows) == files and len(rows) == len(
        set(r["path"] for r in rows)
    )
    for r in rows:
        assert r["label"] in NAMES and r["class_1"] == r["label"]
        if r["path"].startswith("labeled/"):
            assert (
                r["given"] == "1"
                and r["label"] == r["path"].split("/")[1]
                and r["confidence"] == "1.0000"
            )
        else:
            assert r["given"] == "0" and 0 <= float(r["confidence"]) <= 1
    record = json.loads((run / "run.json").read_text())
    assert record["data"]["n_given"] == 9 and record["data"]["n_test"] == 30
    assert any("n_labeled does not apply" in n for n in record["data"]["notes"])


def test_predict_applies_the_run_classifier_like_the_run(folder_run, tmp_path, capsys):
    root, run = folder_run
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(run), str(root / "test"), "-o", str(out)]) == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 30 and all(r["label"] in NAMES for r in rows)
    # the same images, the same preprocessing: the run's own test predictions
    classes = json.loads((run / "run.json").read_text())["data"]["classes"]
    expected = [classes[i] for i in np.load(run / "test_predictions.npy")]
    order = sorted(range(30), key=lambda i: rows[i]["path"])
    assert [rows[i]["label"] for i in order] == expected
    p = [
        float(r["probability"]) + float(r["probability_2"]) + float(r["probability_3"])
        for r in rows
    ]
    np.testing.assert_allclose(p, 1.0, atol=2e-4)
    assert (
        main(
            [
                "predict",
                str(run / "model.pt"),
                str(root / "test" / "zero"),
                "-o",
                str(tmp_path / "z.csv"),
            ]
        )
        == 0
    )
    code = main(
        [
            "predict",
            str(run / "metric" / "encoder.pt"),
            str(root / "test"),
            "-o",
            str(tmp_path / "e.csv"),
        ]
    )
    assert code == 2 and "has no classifier" in capsys.readouterr().err


def test_a_shipped_config_works_by_changing_only_the_dataset(tmp_path):
    root = user_folder(tmp_path / "photos")
    args = [
        "run",
        str(DIGITS),
        "--set",
        f"dataset=folder:{root}",
        "--fast-dev-run",
        "-o",
        str(tmp_path / "r"),
    ]
    assert main(args) == 0
    assert (tmp_path / "r" / "pseudo_labels.csv").exists() and (
        tmp_path / "r" / "model.pt"
    ).exists()


class Killed(Exception):
    pass


def test_a_killed_run_resumes_exactly_with_any_worker_count(tmp_path):
    root = user_folder(tmp_path / "photos", with_test=False)
    run_dmt(small(root, finetune__epochs=3), tmp_path / "whole")
    original = dmt_module.WeightedClassification.batches

    def dying(self, epoch):
        if epoch == 2:
            raise Killed()
        return original(self, epoch)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dmt_module.WeightedClassification, "batches", dying)
        with pytest.raises(Killed):
            run_dmt(small(root, finetune__epochs=3, cache="none"), tmp_path / "resumed")
    # resumed with two DataLoader workers decoding the files: the same end, bitwise
    run_dmt(small(root, finetune__epochs=3, cache="none", num_workers=2), tmp_path / "resumed")
    a = load_checkpoint(tmp_path / "whole" / "finetune" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "finetune" / "checkpoint.pt")["model"]
    for name, tensor in a.items():
        assert torch.equal(tensor, b[name]), name
