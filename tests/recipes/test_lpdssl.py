"""The lpdssl recipe (issues 6, 16): Iscen's iterative propagation on a generated data set."""

import json
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from deeplabelprop import propagate
from deeplabelprop.cli import main
from deeplabelprop.data import ImageStream, ShiftFlip, load_dataset
from deeplabelprop.models import build_model
from deeplabelprop.propagation import (
    PropagationResult,
    class_balance_weights,
    entropy_weight,
)
from deeplabelprop.recipes import load_recipe, run_lpdssl
from deeplabelprop.train import load_checkpoint
from deeplabelprop.train import lpdssl_task as task_module
from deeplabelprop.train.lpdssl_task import LPDSSLTask, network_pseudo_labels
from tests.conftest import recipe_config

BASE = {
    "model": "small-cnn",
    "width": 4,
    "n_labeled": 9,
    "seed": 0,
    "supervised": {"epochs": 1, "batch_size": 9},
    "propagate": {"n_neighbors": 10},
    "iterative": {"epochs": 3, "batch_labeled": 8, "batch_unlabeled": 24, "shift": 1},
}


def config(dataset, **over):
    return recipe_config("lpdssl", {"dataset": f"npz:{dataset}", **BASE}, over)


def test_network_pseudo_labels_weights():
    """The network's softmax as pseudo labels: ŷ = argmax, ω = Iscen eq. (11) max-normalised,
    ζ ∝ 1/count with mean 1, labeled rows kept."""
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(50, 4)) * 3)
    logits[:, 3] = -50.0  # class 3 receives no pseudo label
    y = np.full(50, -1)
    y[:3] = [0, 1, 2]
    r = network_pseudo_labels(logits, y, "entropy")
    p = torch.softmax(logits.float(), 1).numpy().astype(np.float64)
    assert np.array_equal(r.labels[:3], [0, 1, 2]) and np.array_equal(r.labels[3:], p[3:].argmax(1))
    assert r.weights[3:].max() == pytest.approx(1.0) and (r.weights[:3] == 1).all()
    h = -(p[3:] * np.log(np.where(p[3:] > 0, p[3:], 1))).sum(1)  # eq. (11) by hand
    raw = 1 - h / np.log(4)
    np.testing.assert_allclose(r.weights[3:], raw / raw.max(), rtol=1e-6)
    zeta = r.class_weights
    assert np.isfinite(zeta).all() and zeta.mean() == pytest.approx(1.0) and zeta[3] == 1.0
    counts = np.bincount(r.labels, minlength=4)[:3]
    np.testing.assert_allclose(zeta[:3] * counts, (zeta[:3] * counts)[0])  # ζ_j ∝ 1/count
    assert (network_pseudo_labels(logits, y, "uniform").weights == 1).all()


def test_epoch_pseudo_labels_are_the_diffusion_of_stage_one(dataset, tmp_path):
    out = tmp_path / "run"
    results = run_lpdssl(config(dataset, iterative__epochs=2), out)
    for f in [
        "split.json",
        "supervised/checkpoint.pt",
        "iterative/checkpoint.pt",
        "model.pt",
        "pseudo_labels.csv",
    ]:
        assert (out / f).exists(), f
    lines = [json.loads(x) for x in (out / "iterative" / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [0, 1] and all(m["propagate_seconds"] > 0 for m in lines)
    test_truth = np.load(out / "labels.npz")["test_truth"]
    assert results["test_accuracy"] == pytest.approx(
        np.mean(np.load(out / "test_predictions.npy") == test_truth)
    )

    # epoch 0's pseudo labels are the diffusion of the stage-1 network's ℓ2-normalised features
    data = load_dataset(f"npz:{dataset}", "train")
    model = build_model("small-cnn", 1, n_classes=3, width=4)
    model.load_state_dict(load_checkpoint(out / "supervised" / "checkpoint.pt")["model"])
    stream = ImageStream(data.images, ShiftFlip(), normalization=data.normalization)
    v = torch.nn.functional.normalize(stream.embed(model, head="features"), dim=1).numpy()
    y = np.load(out / "labels.npz")["given"]
    with warnings.catch_warnings():  # 20 CG iterations may stop above the tolerance
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = propagate(v, y, "diffusion", 3, calibration="none", n_neighbors=10, max_iter=20)
    saved, _, _ = PropagationResult.load(out / "iterative" / "pseudo" / "epoch_000.npz")
    assert np.array_equal(saved.labels, ref.labels)
    unl = y < 0
    np.testing.assert_allclose(
        saved.weights[unl], entropy_weight(ref.probabilities[unl]), atol=1e-3
    )
    np.testing.assert_allclose(saved.class_weights, class_balance_weights(ref.labels, 3), rtol=1e-6)
    acc = float(np.mean(ref.labels[unl] == data.labels[unl]))
    assert lines[0]["pseudo_label_accuracy"] == pytest.approx(acc)


def test_any_registered_method(dataset, tmp_path):
    """[propagate] method = "spectral": the recipe propagates with it and weights by its own
    weight (DMT's margin); no code path names diffusion."""
    out = tmp_path / "run"
    run_lpdssl(
        config(
            dataset,
            iterative__epochs=1,
            propagate={"method": "spectral", "n_neighbors": 8, "n_components": 10},
        ),
        out,
    )
    saved, _, _ = PropagationResult.load(out / "iterative" / "pseudo" / "epoch_000.npz")
    assert saved.weight_name == "margin"


class Killed(Exception):
    """Stands for the process being killed during stage 2."""


def test_resume_mid_stage_two_equals_uninterrupted(dataset, tmp_path):
    kill_at = 2
    cfg = config(dataset, iterative__mean_teacher=True)
    run_lpdssl(cfg, tmp_path / "whole")
    original = task_module.LPDSSLTask.batches

    def dying(self, epoch):
        if epoch == kill_at:  # after epoch 1's checkpoint and epoch 2's propagation
            raise Killed()
        return original(self, epoch)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(task_module.LPDSSLTask, "batches", dying)
        with pytest.raises(Killed):
            run_lpdssl(cfg, tmp_path / "resumed")
    assert load_checkpoint(tmp_path / "resumed" / "iterative" / "checkpoint.pt")["epoch"] == 1
    run_lpdssl(cfg, tmp_path / "resumed")
    a = load_checkpoint(tmp_path / "whole" / "iterative" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "resumed" / "iterative" / "checkpoint.pt")
    for key in ("model", "teacher"):  # the loop's one EMA teacher is checkpointed and restored
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), (key, name)  # bitwise on CPU
    for e in range(3):
        pa = np.load(tmp_path / "whole" / "iterative" / "pseudo" / f"epoch_{e:03d}.npz")
        pb = np.load(tmp_path / "resumed" / "iterative" / "pseudo" / f"epoch_{e:03d}.npz")
        assert np.array_equal(pa["labels"], pb["labels"])


def test_batches_hold_the_labeled_and_unlabeled_counts(dataset, tmp_path):
    data = load_dataset(f"npz:{dataset}", "train")
    y = np.full(len(data.labels), -1)
    labeled = np.arange(0, 300, 33)
    y[labeled] = data.labels[labeled]
    task = LPDSSLTask(
        ImageStream(data.images, ShiftFlip()),
        y,
        3,
        batch_labeled=8,
        batch_unlabeled=24,
        pseudo_labels="none",
    )
    batches = [b.index.tolist() for b in task.batches(0)]
    assert len(batches) == task.steps_per_epoch == (300 - labeled.size) // 24
    for b in batches:
        assert np.isin(b[:8], labeled).all() and not np.isin(b[8:], labeled).any()


def test_network_pseudo_labels_and_cli(dataset, tmp_path, capsys):
    cfg = tmp_path / "lpdssl.toml"
    cfg.write_text(
        f'recipe = "lpdssl"\ndataset = "npz:{dataset}"\nwidth = 4\nn_labeled = 9\n'
        "[supervised]\nbatch_size = 9\n"
        '[iterative]\npseudo_labels = "network"\nbatch_labeled = 8\nbatch_unlabeled = 24\n'
    )
    assert main(["run", str(cfg), "--fast-dev-run", "-o", str(tmp_path / "r")]) == 0
    assert "test_accuracy" in capsys.readouterr().out
    saved = np.load(tmp_path / "r" / "iterative" / "pseudo" / "epoch_000.npz")
    assert saved["labels"].shape == (300,)
    recipe, c = load_recipe(cfg, ["propagate.weight=uniform"])
    assert (
        recipe.name == "lpdssl"
        and c.propagate.weight == "uniform"
        and c.propagate.params == {"n_neighbors": 50, "alpha": 0.99, "max_iter": 20}
    )
    code = main(
        ["run", str(cfg), "--set", "iterative.pseudo_labels=magic", "-o", str(tmp_path / "x")]
    )
    assert code == 2 and "iterative.pseudo_labels='magic' is not valid" in capsys.readouterr().err
