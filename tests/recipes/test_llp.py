"""The llp recipe (issue 7) end to end on the generated data set: outputs, resume, CLI."""

import json

import numpy as np
import pytest
import torch

from deeplabelprop import InputError
from deeplabelprop.cli import main
from deeplabelprop.recipes import LLPConfig, run_llp
from deeplabelprop.recipes import llp as recipe_module
from deeplabelprop.train import load_checkpoint
from tests.conftest import recipe_config


def config(dataset, **over):
    data = {
        "dataset": f"npz:{dataset}",
        "model": "small-cnn",
        "width": 4,
        "n_labeled": 9,
        "seed": 0,
        "warm": {"epochs": 1, "batch_size": 64, "crop_scale": 0.6},
        "propagation": {"epochs": 3, "batch_size": 32, "n_density": 8, "n_voters": 3, "shift": 1},
    }
    return recipe_config(LLPConfig, data, over)


def test_two_epochs_outputs(dataset, tmp_path):
    out = tmp_path / "run"
    results = run_llp(config(dataset, propagation__epochs=2), out)
    for f in [
        "split.json",
        "warm/encoder.pt",
        "warm/features.npy",
        "llp/checkpoint.pt",
        "results.json",
    ]:
        assert (out / f).exists(), f
    lines = [json.loads(x) for x in (out / "llp" / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [0, 1]
    for m in lines:
        assert 0 <= m["pseudo_label_accuracy"] <= 1 and 0 <= m["nn_accuracy"] <= 1
    saved = np.load(out / "llp" / "pseudo" / "epoch_001.npz")
    assert saved["labels"].shape == (300,) and (saved["weights"][saved["labeled"]] == 1).all()
    assert set(results) >= {"test_accuracy", "nn_accuracy", "pseudo_label_accuracy"}


class Killed(Exception):
    """Stands for the process being killed during stage 2."""


@pytest.mark.parametrize("labeled_per_batch", [0, 4])  # uniform batches; labels in each
def test_resume_equals_uninterrupted(dataset, tmp_path, labeled_per_batch):
    cfg = config(dataset, propagation__labeled_per_batch=labeled_per_batch)
    run_llp(cfg, tmp_path / "whole")
    original = recipe_module.LocalLabelPropagation.batches

    def dying(self, epoch):
        if epoch == 2:
            raise Killed()
        return original(self, epoch)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recipe_module.LocalLabelPropagation, "batches", dying)
        with pytest.raises(Killed):
            run_llp(cfg, tmp_path / "resumed")
    run_llp(cfg, tmp_path / "resumed")  # the warm start is skipped, stage 2 resumes after epoch 1
    a = load_checkpoint(tmp_path / "whole" / "llp" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "resumed" / "llp" / "checkpoint.pt")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert torch.equal(a["task"]["bank"]["vectors"], b["task"]["bank"]["vectors"])


def test_cli_fast_dev_run_and_bad_settings(dataset, tmp_path, capsys):
    cfg = tmp_path / "llp.toml"
    cfg.write_text(
        f'recipe = "llp"\ndataset = "npz:{dataset}"\nwidth = 4\nn_labeled = 9\n'
        "[warm]\nbatch_size = 64\n[propagation]\nbatch_size = 32\nn_density = 8\n"
    )
    assert main(["run", str(cfg), "--fast-dev-run", "-o", str(tmp_path / "r")]) == 0
    assert "nn_accuracy" in capsys.readouterr().out
    code = main(["run", str(cfg), "--set", "warm.source=checkpoint", "-o", str(tmp_path / "x")])
    assert code == 2 and "warm.checkpoint" in capsys.readouterr().err


def test_labeled_rows_in_every_batch(dataset, tmp_path):
    from deeplabelprop.data import ImageStream, ShiftFlip
    from deeplabelprop.train.local_aggregation import LocalLabelPropagation

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
    task = LocalLabelPropagation(stream, y, 3, bank, n_voters=2, n_density=4)
    batches = [idx.numpy() for idx, _ in task.batches(0)]
    assert len(batches) == task.steps_per_epoch == 300 // 32  # the uniform sampler's step count
    for b in batches:  # 4 labeled rows, then 28 unlabeled ones
        assert (y[b[:4]] >= 0).all() and (y[b[4:]] < 0).all()
    with pytest.raises(Exception, match="propagation.labeled_per_batch"):
        run_llp(config(dataset, propagation__labeled_per_batch=32), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    with pytest.raises(InputError, match="warm.jitter"):
        run_llp(config(dataset, warm__jitter=-1.0), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_a_global_propagator_on_the_bank(dataset, tmp_path):
    """propagation.method = "diffusion": each epoch's pseudo labels and confidences are those of
    the diffusion of the epoch's bank, checked on the saved files; bad settings write nothing."""
    from deeplabelprop.propagation import Diffusion

    out = tmp_path / "run"
    run_llp(config(dataset, propagation__method="diffusion", propagation__n_neighbors=5), out)
    split = json.loads((out / "split.json").read_text())
    truth = np.load(out / "warm" / "targets.npy")
    y = np.full(300, -1)
    y[split["labeled"]] = truth[split["labeled"]]
    # epoch 0 propagates the warm start's features (the initial bank)
    expected = Diffusion(n_neighbors=5).propagate(np.load(out / "warm" / "features.npy"), y, 3)
    saved = np.load(out / "llp" / "pseudo" / "epoch_000.npz")
    np.testing.assert_array_equal(saved["labels"], expected.labels)
    np.testing.assert_allclose(saved["weights"], expected.confidence, rtol=1e-6, atol=1e-6)
    assert (saved["weights"][y >= 0] == 1).all()

    for over, match in [
        ({"propagation__method": "diffuse"}, "unknown propagation.method 'diffuse'"),
        ({"propagation__n_neighbors": 5}, "propagation.n_voters"),  # with the local vote
        ({"propagation__method": "diffusion", "propagation__n_neighbors": 0}, "n_neighbors=0"),
    ]:
        with pytest.raises(InputError, match=match):
            run_llp(config(dataset, **over), tmp_path / "bad")
        assert not (tmp_path / "bad").exists()
