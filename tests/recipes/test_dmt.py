"""The dmt recipe end to end on a generated 300-image data set (issues 5, 16)."""

import csv
import json

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.cli import main
from deeplabelprop.data import ImageStream, ShiftFlip
from deeplabelprop.propagation import PropagationResult, select_confident
from deeplabelprop.recipes import load_recipe, run_dmt
from tests.conftest import recipe_config

BASE = {
    "model": "small-cnn",
    "width": 4,
    "n_labeled": 6,
    "seed": 0,
    "metric": {"epochs": 2, "batch_size": 64, "crop_scale": 0.6},
    "propagate": {"method": "spectral", "n_neighbors": 8, "n_components": 10},
    "finetune": {"epochs": 2, "batch_size": 32, "shift": 1},
}


def config(dataset, **over):
    return recipe_config("dmt", {"dataset": f"npz:{dataset}", **BASE}, over)


def test_stages_outputs_and_a_rerun_recomputes_nothing(dataset, tmp_path):
    out = tmp_path / "run"
    results = run_dmt(config(dataset), out)
    for f in [
        "run.json",
        "split.json",
        "labels.npz",
        "metric/features.npy",
        "metric/encoder.pt",
        "propagate/pseudo.npz",
        "finetune/checkpoint.pt",
        "finetune/metrics.jsonl",
        "model.pt",
        "pseudo_labels.csv",
        "test_predictions.npy",
        "results.json",
    ]:
        assert (out / f).exists(), f
    record = json.loads((out / "run.json").read_text())
    assert record["recipe"] == "dmt" and record["status"] == "done"
    assert [record["stages"][s]["status"] for s in ("metric", "propagate", "finetune")] == [
        "done"
    ] * 3
    assert record["stages"]["propagate"]["settings"]["propagate"]["n_neighbors"] == 8
    # the results are the run's own numbers
    result, classes, _ = PropagationResult.load(out / "propagate" / "pseudo.npz")
    truth = np.load(out / "labels.npz")["truth"]
    unl = ~result.labeled
    assert results["pseudo_label_accuracy"] == pytest.approx(
        np.mean(result.labels[unl] == truth[unl])
    )
    test_truth = np.load(out / "labels.npz")["test_truth"]
    assert results["test_accuracy"] == pytest.approx(
        np.mean(np.load(out / "test_predictions.npy") == test_truth)
    )
    stamps = {
        f: (out / f).stat().st_mtime_ns for f in ["metric/features.npy", "propagate/pseudo.npz"]
    }
    again = run_dmt(config(dataset), out)  # every stage finished: nothing is recomputed
    assert again["test_accuracy"] == results["test_accuracy"]
    assert {f: (out / f).stat().st_mtime_ns for f in stamps} == stamps


def test_pseudo_labels_csv_rows_match_the_examples(dataset, tmp_path):
    out = tmp_path / "run"
    run_dmt(config(dataset), out)
    result, classes, _ = PropagationResult.load(out / "propagate" / "pseudo.npz")
    rows = list(csv.DictReader(open(out / "pseudo_labels.csv")))
    assert len(rows) == 300 and [int(r["index"]) for r in rows] == list(range(300))
    for r in rows:
        i = int(r["index"])
        assert r["label"] == classes[result.labels[i]] and r["class_1"] == r["label"]
        assert float(r["confidence"]) == pytest.approx(result.confidence[i], abs=5e-5)
        assert r["given"] == str(int(result.labeled[i]))
        assert float(r["probability_1"]) >= float(r["probability_2"]) >= float(r["probability_3"])


def test_weights_and_top_ratio(dataset, tmp_path):
    out = tmp_path / "run"
    run_dmt(config(dataset, finetune__top_ratio=0.25), out)
    result, _, params = PropagationResult.load(out / "propagate" / "pseudo.npz")
    unl = np.flatnonzero(~result.labeled)
    # the margin of DMT eq. (8)-(9) on the saved probabilities: the method's own weight
    p = np.exp(result.probabilities * 40)
    p /= p.sum(1, keepdims=True)
    top2 = np.sort(p, 1)[:, -2:]
    np.testing.assert_allclose(result.weights[unl], (top2[:, 1] - top2[:, 0])[unl], atol=1e-9)
    assert (result.weights[result.labeled] == 1).all() and result.weight_name == "margin"
    assert (
        params["method"] == "spectral"
        and params["n_neighbors"] == 8
        and params["random_state"] == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["pseudo_labels_used"] == int(0.25 * unl.size)


def test_another_weight_by_name(dataset, tmp_path):
    """propagate.weight = "entropy": the finetune's weights are Iscen's ω of the same pseudo labels."""
    from deeplabelprop.propagation import entropy_weight

    out = tmp_path / "run"
    run_dmt(config(dataset, propagate__weight="entropy"), out)
    result, _, _ = PropagationResult.load(out / "propagate" / "pseudo.npz")
    unl = ~result.labeled
    assert result.weight_name == "entropy"
    np.testing.assert_allclose(result.weights[unl], entropy_weight(result.probabilities[unl]))


def test_true_labels_in_every_batch(dataset, tmp_path):
    out = tmp_path / "run"
    cfg = config(
        dataset, finetune__labeled_per_batch=8, finetune__top_ratio=0.5, finetune__per_class=True
    )
    results = run_dmt(cfg, out)
    result, _, _ = PropagationResult.load(out / "propagate" / "pseudo.npz")
    labeled = np.flatnonzero(result.labeled)
    chosen = select_confident(
        result.weights,
        0.5,
        candidates=np.flatnonzero(~result.labeled),
        labels=result.labels,
        per_class=True,
        tie_break=result.probabilities.max(1),
    )
    assert results["pseudo_labels_used"] == chosen.size
    # the finetune's stream, as the recipe builds it: 300 examples per epoch in batches of 32
    stream = ImageStream(
        np.zeros((300, 8, 8, 1), np.uint8),
        ShiftFlip(shift=1),
        32,
        0,
        indices=np.concatenate([labeled, chosen]),
        epoch_size=300,
        labeled=labeled,
        labeled_per_batch=8,
    )
    batches = [b.index.numpy() for b in stream.batches(0)]
    assert len(batches) == stream.steps_per_epoch == 300 // 32  # as many as uniform batches
    for b in batches:  # exactly 8 true labels, then 24 of the chosen pseudo labels
        assert len(b) == 32 and np.isin(b[:8], labeled).all() and np.isin(b[8:], chosen).all()
    with pytest.raises(InputError, match="labeled_per_batch.*batch_size"):
        config(dataset, finetune__labeled_per_batch=32)
    with pytest.raises(InputError, match="metric.erase"):
        config(dataset, metric__erase=2.0)


@pytest.mark.parametrize(
    "over, match",
    [
        ({"metric__tau": -1}, "metric.tau=-1.0 is out of range"),
        ({"finetune__lr": -5}, "finetune.lr=-5.0 is out of range"),
        ({"metric__batch_size": 0}, "metric.batch_size=0 is out of range"),
        ({"metric__epochs": 0}, "metric.epochs=0 is out of range"),
        ({"propagate__n_neighbors": 0}, "n_neighbors=0 is out of range"),
        ({"propagate__n_component": 5}, "propagate.n_component: method 'spectral' does not take"),
        ({"propagate__method": "diffuse"}, "unknown method 'diffuse'"),
        ({"propagate__weight": "loud"}, "propagate.weight='loud' is not a weight"),
        ({"metric__source": "checkpoint"}, "metric.checkpoint"),
    ],
)
def test_bad_settings_are_one_line_errors(dataset, over, match):
    with pytest.raises(InputError, match=match):
        config(dataset, **over)


@pytest.mark.parametrize("recipe", ["dmt", "lpdssl", "llp"])
def test_an_encoder_of_another_width_is_refused_before_anything_is_written(
    dataset, tmp_path, recipe
):
    """An encoder from elsewhere that the classifier cannot take is refused when the config is
    checked, not at the finetune after the metric and propagate stages were written."""
    from deeplabelprop.models import build_model
    from deeplabelprop.models.saved import Preprocessing, save_model
    from deeplabelprop.recipes import build_config, get_recipe

    encoder = tmp_path / "encoder.pt"
    network = build_model("small-cnn", 1, width=8)
    build = {"name": "small-cnn", "in_channels": 1, "n_classes": None, "embedding_dim": 128}
    save_model(encoder, network, {**build, "width": 8}, Preprocessing((8, 8), 1, (0.5,), (0.5,)))
    data = {"dataset": f"npz:{dataset}", "model": "small-cnn", "n_labeled": 6}
    data["metric"] = {"source": "checkpoint", "checkpoint": str(encoder)}
    before = sorted(tmp_path.iterdir())
    with pytest.raises(
        InputError,
        match=r"model 'small-cnn', width 8, which model 'small-cnn' of width 4 cannot take: set model = 'small-cnn' and width = 8",
    ):
        build_config(get_recipe(recipe), {**data, "width": 4})
    assert sorted(tmp_path.iterdir()) == before
    assert build_config(get_recipe(recipe), {**data, "width": 8}).width == 8  # the fitting one


def test_fast_dev_run_via_cli(dataset, tmp_path, capsys):
    cfg = tmp_path / "dmt.toml"
    cfg.write_text(
        f'recipe = "dmt"\ndataset = "npz:{dataset}"\nwidth = 4\nn_labeled = 6\n'
        '[metric]\nbatch_size = 64\n[propagate]\nmethod = "knn-vote"\n[finetune]\nbatch_size = 32\n'
    )
    assert (
        main(["run", str(cfg), "--fast-dev-run", "--set", "seed=1", "-o", str(tmp_path / "r")]) == 0
    )
    assert "test_accuracy" in capsys.readouterr().out
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["fast_dev_run"] and record["config"]["metric"]["epochs"] == 1
    recipe, c = load_recipe(cfg, ["finetune.epochs=3"])
    assert recipe.name == "dmt" and c.finetune.epochs == 3 and c.propagate.method == "knn-vote"
    code = main(["run", str(cfg), "--set", "metric.epoch=3", "-o", str(tmp_path / "r2")])
    assert code == 2 and "unknown setting(s) metric.epoch" in capsys.readouterr().err
