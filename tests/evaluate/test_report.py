"""`deeplabelprop report` (issue 8): built from real tiny runs; tables equal the run's files."""

import json

import numpy as np
import pytest
from PIL import Image

from deeplabelprop.cli import main
from deeplabelprop.evaluate import pseudo_label_map
from deeplabelprop.evaluate.report import build_report
from deeplabelprop.propagation import PropagationResult
from deeplabelprop.recipes import run_dmt, run_lpdssl
from tests.conftest import recipe_config, run_recipe, write_blocks


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A dmt run and an lpdssl run on the generated 3-class data set (seconds each)."""
    base = tmp_path_factory.mktemp("runs")
    # 10 % of the ground truth disagrees with the images: the pseudo labels must make mistakes
    data, ytr, yte = write_blocks(base / "blocks.npz", noisy_fraction=0.1)
    dmt = {
        "dataset": f"npz:{data}",
        "width": 4,
        "n_labeled": 6,
        "metric": {"epochs": 1, "batch_size": 64, "crop_scale": 0.6},
        "propagate": {"method": "spectral", "n_neighbors": 8, "n_components": 10},
        "finetune": {"epochs": 1, "batch_size": 32, "shift": 1},
    }
    run_dmt(recipe_config("dmt", dmt), base / "dmt")
    lp = {
        "dataset": f"npz:{data}",
        "width": 4,
        "n_labeled": 9,
        "supervised": {"epochs": 1, "batch_size": 9},
        "propagate": {"n_neighbors": 10},
        "iterative": {"epochs": 2, "batch_labeled": 8, "batch_unlabeled": 24, "shift": 1},
    }
    run_lpdssl(recipe_config("lpdssl", lp), base / "lpdssl")
    return base, ytr, yte


def is_png(path):
    with Image.open(path) as im:
        return im.format == "PNG" and im.size[0] > 100


def test_report_of_two_runs(runs, tmp_path):
    base, ytr, yte = runs
    tables = build_report([base / "dmt", base / "lpdssl"], tmp_path / "rep")
    for f in [
        "accumulated_accuracy.png",
        "epochs.png",
        "dmt_weights.png",
        "dmt_similarity.png",
        "dmt_embedding.png",
        "dmt_mistakes.png",
        "lpdssl_weights.png",
    ]:
        assert is_png(tmp_path / "rep" / f), f
    # lpdssl keeps no features: no similarity matrix or map, and the report says so
    md = (tmp_path / "rep" / "report.md").read_text()
    assert (
        "lpdssl: no saved features" in md
        and not (tmp_path / "rep" / "lpdssl_similarity.png").exists()
    )
    html = (tmp_path / "rep" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == md.count("![")
    # the page is built from the same tables: every summary row's test accuracy is in it
    for r in tables["summary"]:
        assert f"<td>{100 * r['test_accuracy']:.2f} %</td>" in html

    # the numbers equal those computed from the run's files
    result, _, _ = PropagationResult.load(base / "dmt" / "propagate" / "pseudo.npz")
    pseudo = {"labels": result.labels, "labeled": result.labeled, "confidence": result.confidence}
    unl = ~pseudo["labeled"]
    preds = np.load(base / "dmt" / "test_predictions.npy")
    row = tables["summary"][0]
    assert row["labels"] == 6
    assert row["pseudo_label_accuracy"] == pytest.approx(np.mean(pseudo["labels"][unl] == ytr[unl]))
    assert row["pseudo_label_map"] == pytest.approx(
        pseudo_label_map(pseudo["confidence"], pseudo["labels"], ytr, unl)
    )
    results = json.loads((base / "dmt" / "results.json").read_text())
    assert (
        row["test_accuracy"]
        == pytest.approx(np.mean(preds == yte))
        == pytest.approx(results["test_accuracy"])
    )
    for c, r in enumerate(tables["per_class"]["dmt"]):
        mine = unl & (pseudo["labels"] == c)
        assert r["labeled"] == int(np.sum(pseudo["labeled"] & (ytr == c)))
        assert r["pseudo_labeled"] == int(mine.sum())
        assert r["pseudo_label_accuracy"] == pytest.approx(np.mean(ytr[mine] == c))
        assert r["test_accuracy"] == pytest.approx(np.mean(preds[yte == c] == c))
        assert (
            f"| {r['class']} | {r['labeled']} | {r['pseudo_labeled']} | {100 * r['pseudo_label_accuracy']:.2f} % |"
            in md
        )
    final, _, _ = PropagationResult.load(base / "lpdssl" / "pseudo_labels.npz")
    lrow = tables["summary"][1]
    lunl = ~final.labeled
    assert lrow["pseudo_label_accuracy"] == pytest.approx(np.mean(final.labels[lunl] == ytr[lunl]))


def test_report_of_a_propagate_output_with_truth(tmp_path, blobs, capsys):
    x, y, labels = blobs
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels)
    assert (
        main(
            [
                "propagate",
                str(tmp_path / "x.npy"),
                str(tmp_path / "y.npy"),
                "-o",
                str(tmp_path / "p.npz"),
            ]
        )
        == 0
    )
    (tmp_path / "truth.csv").write_text("".join(f"{i},{v}\n" for i, v in enumerate(y)))
    assert (
        main(
            [
                "report",
                str(tmp_path / "p.npz"),
                "--truth",
                str(tmp_path / "truth.csv"),
                "-o",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    assert is_png(tmp_path / "r" / "accumulated_accuracy.png")
    tables = json.loads((tmp_path / "r" / "report.json").read_text())
    saved, classes, _ = PropagationResult.load(tmp_path / "p.npz")
    unl = ~saved.labeled
    assert tables["summary"][0]["pseudo_label_accuracy"] == pytest.approx(
        np.mean(classes.astype(int)[saved.labels][unl] == y[unl])
    )
    np.save(tmp_path / "truth.npy", y)  # the same truth as .npy: the same report
    build_report([tmp_path / "p.npz"], tmp_path / "r1", truth=tmp_path / "truth.npy")
    assert json.loads((tmp_path / "r1" / "report.json").read_text())["summary"] == tables["summary"]
    capsys.readouterr()
    np.save(tmp_path / "short.npy", y[:10])
    code = main(
        [
            "report",
            str(tmp_path / "p.npz"),
            "--truth",
            str(tmp_path / "short.npy"),
            "-o",
            str(tmp_path / "r2"),
        ]
    )
    assert code == 2 and "have 10 entries but features have 300 rows" in capsys.readouterr().err
    code = main(["report", str(tmp_path), "-o", str(tmp_path / "r3")])
    assert code == 2 and "not a run directory" in capsys.readouterr().err


def test_any_recipe_reports_from_its_run_json(dataset, tmp_path):
    """A recipe the report has no code for (here ``pretrain``: a metric, no pseudo labels) is
    reported from what its run.json records: its features are drawn, its epochs plotted."""
    metric = {"epochs": 2, "batch_size": 64, "objective": "two-view"}
    run_recipe(
        "pretrain", {"dataset": f"npz:{dataset}", "width": 4, "metric": metric}, tmp_path / "pre"
    )
    tables = build_report([tmp_path / "pre"], tmp_path / "rep")
    assert tables["summary"][0]["recipe"] == "pretrain"
    assert is_png(tmp_path / "rep" / "pre_similarity.png") and is_png(
        tmp_path / "rep" / "epochs.png"
    )
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "pre: no pseudo labels with ground truth" in md
