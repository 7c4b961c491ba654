"""The llp recipe (issues 7, 16) end to end on the generated data set: outputs, resume, CLI, and
any registered method on the bank."""

import json

import numpy as np
import pytest
import torch

from deeplabelprop import InputError
from deeplabelprop.cli import main
from deeplabelprop.data import ImageStream, ShiftFlip
from deeplabelprop.propagation import Pipeline, PropagationResult
from deeplabelprop.recipes import run_llp
from deeplabelprop.train import llp_task as task_module
from deeplabelprop.train import load_checkpoint
from deeplabelprop.train.llp_task import LLPTask
from tests.conftest import recipe_config

BASE = {
    "model": "small-cnn",
    "width": 4,
    "n_labeled": 9,
    "seed": 0,
    "metric": {"epochs": 1, "batch_size": 64, "crop_scale": 0.6},
    "propagate": {"method": "local", "n_density": 8, "n_voters": 3},
    "llp": {"epochs": 3, "batch_size": 32, "shift": 1},
}


def config(dataset, **over):
    return recipe_config("llp", {"dataset": f"npz:{dataset}", **BASE}, over)


def test_two_epochs_outputs(dataset, tmp_path):
    out = tmp_path / "run"
    results = run_llp(config(dataset, llp__epochs=2), out)
    for f in [
        "split.json",
        "metric/encoder.pt",
        "metric/features.npy",
        "llp/checkpoint.pt",
        "model.pt",
        "pseudo_labels.csv",
    ]:
        assert (out / f).exists(), f
    lines = [json.loads(x) for x in (out / "llp" / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [0, 1]
    saved, _, _ = PropagationResult.load(out / "llp" / "pseudo" / "epoch_001.npz")
    assert saved.labels.shape == (300,) and (saved.weights[saved.labeled] == 1).all()
    assert saved.weight_name == "top-probability"  # LLP eq. (6): c = p_y
    truth, given = np.load(out / "labels.npz")["truth"], np.load(out / "labels.npz")["given"]
    final, _, _ = PropagationResult.load(out / "pseudo_labels.npz")
    unl = given < 0
    assert results["pseudo_label_accuracy"] == pytest.approx(
        np.mean(final.labels[unl] == truth[unl])
    )
    assert set(results) >= {"test_accuracy", "nn_accuracy"}


class Killed(Exception):
    """Stands for the process being killed during stage 2."""


@pytest.mark.parametrize("labeled_per_batch", [0, 4])  # uniform batches; labels in each
def test_resume_equals_uninterrupted(dataset, tmp_path, labeled_per_batch):
    cfg = config(dataset, llp__labeled_per_batch=labeled_per_batch)
    run_llp(cfg, tmp_path / "whole")
    original = task_module.LLPTask.batches

    def dying(self, epoch):
        if epoch == 2:
            raise Killed()
        return original(self, epoch)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(task_module.LLPTask, "batches", dying)
        with pytest.raises(Killed):
            run_llp(cfg, tmp_path / "resumed")
    run_llp(cfg, tmp_path / "resumed")  # the metric is skipped, stage llp resumes after epoch 1
    a = load_checkpoint(tmp_path / "whole" / "llp" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "resumed" / "llp" / "checkpoint.pt")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert torch.equal(a["task"]["bank"]["vectors"], b["task"]["bank"]["vectors"])


def test_cli_fast_dev_run_and_bad_settings(dataset, tmp_path, capsys):
    cfg = tmp_path / "llp.toml"
    cfg.write_text(
        f'recipe = "llp"\ndataset = "npz:{dataset}"\nwidth = 4\nn_labeled = 9\n'
        "[metric]\nbatch_size = 64\n[propagate]\nn_density = 8\n[llp]\nbatch_size = 32\n"
    )
    assert main(["run", str(cfg), "--fast-dev-run", "-o", str(tmp_path / "r")]) == 0
    assert "nn_accuracy" in capsys.readouterr().out
    code = main(["run", str(cfg), "--set", "metric.source=checkpoint", "-o", str(tmp_path / "x")])
    assert code == 2 and "metric.checkpoint" in capsys.readouterr().err
    code = main(["run", str(cfg), "--set", "metric.source=none", "-o", str(tmp_path / "x")])
    assert code == 2 and "metric.source must be one of" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_labeled_rows_in_every_batch(dataset, tmp_path):
    y = np.full(300, -1)
    y[[3, 50, 120, 200, 299]] = [0, 1, 2, 0, 1]
    stream = ImageStream(
        np.zeros((300, 8, 8, 1), np.uint8),
        ShiftFlip(shift=1),
        32,
        0,
        labeled=np.flatnonzero(y >= 0),
        labeled_per_batch=4,
    )
    bank = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    settings = Pipeline("local", params={"n_voters": 2, "n_density": 4})
    task = LLPTask(stream, y, 3, bank, lambda b: settings.run(b, y, 3))
    batches = [b.index.numpy() for b in task.batches(0)]
    assert len(batches) == task.steps_per_epoch == 300 // 32  # the uniform sampler's step count
    for b in batches:  # 4 labeled rows, then 28 unlabeled ones
        assert (y[b[:4]] >= 0).all() and (y[b[4:]] < 0).all()
    with pytest.raises(InputError, match="llp.labeled_per_batch"):
        config(dataset, llp__labeled_per_batch=32)
    with pytest.raises(InputError, match="metric.jitter"):
        config(dataset, metric__jitter=-1.0)


def test_a_global_propagator_on_the_bank(dataset, tmp_path):
    """[propagate] method = "diffusion": each epoch's pseudo labels and weights are those of the
    diffusion of the epoch's bank (epoch 0: the metric's features), with its own weight ω."""
    out = tmp_path / "run"
    run_llp(config(dataset, propagate={"method": "diffusion", "n_neighbors": 5}), out)
    y = np.load(out / "labels.npz")["given"]
    expected = Pipeline("diffusion", params={"n_neighbors": 5}).run(
        np.load(out / "metric" / "features.npy"), y, 3, calibrate=False
    )
    saved, _, _ = PropagationResult.load(out / "llp" / "pseudo" / "epoch_000.npz")
    np.testing.assert_array_equal(saved.labels, expected.labels)
    np.testing.assert_allclose(
        saved.weights, expected.confidence, rtol=2e-3, atol=1e-3
    )  # float16 record
    assert saved.weight_name == "entropy" and (saved.weights[y >= 0] == 1).all()
    for over, match in [
        ({"propagate": {"method": "diffuse"}}, "unknown method 'diffuse'"),
        (
            {"propagate": {"method": "local", "n_neighbors": 5}},
            "method 'local' does not take n_neighbors",
        ),
        ({"propagate": {"method": "diffusion", "n_neighbors": 0}}, "n_neighbors=0"),
    ]:
        with pytest.raises(InputError, match=match):
            config(dataset, **over)
