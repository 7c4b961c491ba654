"""The dmt recipe end to end on a generated 300-image data set (issue 5)."""

import json

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.cli import main
from deeplabelprop.data import ImageStream, ShiftFlip
from deeplabelprop.propagation import select_confident
from deeplabelprop.recipes import DMTConfig, load_recipe, run_dmt
from tests.conftest import recipe_config


def config(dataset, **over):
    data = {
        "dataset": f"npz:{dataset}",
        "model": "small-cnn",
        "width": 4,
        "n_labeled": 6,
        "seed": 0,
        "metric": {"epochs": 2, "batch_size": 64, "crop_scale": 0.6},
        "propagate": {"method": "spectral", "n_neighbors": 8, "n_components": 10},
        "finetune": {"epochs": 2, "batch_size": 32, "shift": 1},
    }
    return recipe_config(DMTConfig, data, over)


def test_stages_outputs_and_resume(dataset, tmp_path):
    out = tmp_path / "run"
    results = run_dmt(config(dataset), out)
    for f in [
        "split.json",
        "metric/features.npy",
        "metric/encoder.pt",
        "propagate/pseudo.npz",
        "finetune/checkpoint.pt",
        "finetune/metrics.jsonl",
        "results.json",
    ]:
        assert (out / f).exists(), f
    assert 0 <= results["test_accuracy"] <= 1 and 0 <= results["pseudo_label_accuracy"] <= 1
    stamps = {
        f: (out / f).stat().st_mtime_ns for f in ["metric/features.npy", "propagate/pseudo.npz"]
    }
    again = run_dmt(config(dataset), out)  # every stage finished: nothing is recomputed
    assert again["test_accuracy"] == results["test_accuracy"]
    assert {f: (out / f).stat().st_mtime_ns for f in stamps} == stamps
    (out / "propagate" / "pseudo.npz").unlink()  # "killed" before propagation finished
    run_dmt(config(dataset), out)
    assert (out / "metric" / "features.npy").stat().st_mtime_ns == stamps["metric/features.npy"]


def test_weights_and_top_ratio(dataset, tmp_path):
    out = tmp_path / "run"
    run_dmt(config(dataset, finetune__top_ratio=0.25), out)
    pseudo = np.load(out / "propagate" / "pseudo.npz")
    labeled = pseudo["labeled"]
    unl = np.flatnonzero(~labeled)
    conf = pseudo["confidence"]
    # the margin of DMT eq. (8)-(9) on the saved probabilities
    p = np.exp(pseudo["probabilities"] * 40)
    p /= p.sum(1, keepdims=True)
    top2 = np.sort(p, 1)[:, -2:]
    np.testing.assert_allclose(conf[unl], (top2[:, 1] - top2[:, 0])[unl], atol=1e-9)
    assert (conf[labeled] == 1).all()
    results = json.loads((out / "results.json").read_text())
    assert results["pseudo_labels_used"] == int(0.25 * unl.size)


def test_true_labels_in_every_batch(dataset, tmp_path):
    out = tmp_path / "run"
    cfg = config(
        dataset, finetune__labeled_per_batch=8, finetune__top_ratio=0.5, finetune__per_class=True
    )
    results = run_dmt(cfg, out)
    assert 0 <= results["test_accuracy"] <= 1
    pseudo = np.load(out / "propagate" / "pseudo.npz")
    y = np.where(pseudo["labeled"], pseudo["labels"], -1)
    labeled = np.flatnonzero(pseudo["labeled"])
    chosen = select_confident(
        pseudo["confidence"],
        0.5,
        candidates=np.flatnonzero(y < 0),
        labels=pseudo["labels"],
        per_class=True,
        tie_break=pseudo["probabilities"].max(1),
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
    batches = [idx.numpy() for idx, _ in stream.batches(0)]
    assert len(batches) == stream.steps_per_epoch == 300 // 32  # as many as uniform batches
    for b in batches:  # exactly 8 true labels, then 24 of the chosen pseudo labels
        assert len(b) == 32 and np.isin(b[:8], labeled).all() and np.isin(b[8:], chosen).all()
    with pytest.raises(InputError, match="labeled_per_batch.*batch_size"):
        run_dmt(config(dataset, finetune__labeled_per_batch=32), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()  # nothing written for invalid settings
    with pytest.raises(InputError, match="metric.erase"):
        run_dmt(config(dataset, metric__erase=2.0), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


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
    name, c, _ = load_recipe(cfg, ["finetune.epochs=3"])
    assert name == "dmt" and c.finetune.epochs == 3 and c.propagate.method == "knn-vote"
    code = main(["run", str(cfg), "--set", "metric.epoch=3", "-o", str(tmp_path / "r2")])
    assert code == 2 and "unknown setting(s) metric.epoch" in capsys.readouterr().err
