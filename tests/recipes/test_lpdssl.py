"""The lpdssl recipe (issue 6): Iscen's iterative propagation on a generated data set."""

import json
import warnings

import numpy as np
import pytest
import torch

from deeplabelprop.cli import main
from deeplabelprop.data import ImageStream, ShiftFlip, load_dataset
from deeplabelprop.models import build_model
from deeplabelprop.propagation import make_propagator
from deeplabelprop.recipes import LPDSSLConfig, load_recipe, run_lpdssl
from deeplabelprop.recipes import lpdssl as recipe_module
from deeplabelprop.train import load_checkpoint
from deeplabelprop.train.iterative import pseudo_targets
from tests.conftest import recipe_config


def config(dataset, **over):
    data = {
        "dataset": f"npz:{dataset}",
        "model": "small-cnn",
        "width": 4,
        "n_labeled": 9,
        "seed": 0,
        "supervised": {"epochs": 1, "batch_size": 9},
        "iterative": {
            "epochs": 3,
            "batch_labeled": 8,
            "batch_unlabeled": 24,
            "n_neighbors": 10,
            "shift": 1,
        },
    }
    return recipe_config(LPDSSLConfig, data, over)


def test_pseudo_targets_weights():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=50)
    p[:, 3] = 0  # class 3 receives no pseudo label
    p /= p.sum(1, keepdims=True)
    y = np.full(50, -1)
    y[:3] = [0, 1, 2]
    targets, omega, zeta = pseudo_targets(p, y, 4)
    assert np.array_equal(targets[:3], [0, 1, 2]) and np.array_equal(targets[3:], p[3:].argmax(1))
    assert omega.min() >= 0 and omega[3:].max() == pytest.approx(1.0) and (omega[:3] == 1).all()
    # eq. (11) before the max-normalisation, by hand
    h = -(p[3:] * np.log(np.where(p[3:] > 0, p[3:], 1))).sum(1)
    raw = 1 - h / np.log(4)
    np.testing.assert_allclose(omega[3:], raw / raw.max())
    assert np.isfinite(zeta).all() and zeta.mean() == pytest.approx(1.0) and zeta[3] == 1.0
    counts = np.bincount(targets, minlength=4)[:3]
    np.testing.assert_allclose(zeta[:3] * counts, (zeta[:3] * counts)[0])  # ζ_j ∝ 1/count
    _, omega_off, zeta_off = pseudo_targets(p, y, 4, entropy_weights=False, class_balance=False)
    assert (omega_off == 1).all() and (zeta_off == 1).all()


def test_two_epochs_outputs_and_epoch_pseudo_labels_are_diffusion(dataset, tmp_path):
    out = tmp_path / "run"
    results = run_lpdssl(config(dataset, iterative__epochs=2), out)
    for f in ["split.json", "supervised/checkpoint.pt", "iterative/checkpoint.pt", "results.json"]:
        assert (out / f).exists(), f
    lines = [json.loads(x) for x in (out / "iterative" / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [0, 1]
    assert all(m["propagate_seconds"] > 0 and 0 <= m["pseudo_label_accuracy"] <= 1 for m in lines)
    assert 0 <= results["test_accuracy"] <= 1

    # epoch 0's pseudo labels are the diffusion of the stage-1 network's ℓ2-normalised features
    data = load_dataset(f"npz:{dataset}", "train")
    model = build_model("small-cnn", 1, n_classes=3, width=4)
    model.load_state_dict(load_checkpoint(out / "supervised" / "checkpoint.pt")["model"])
    stream = ImageStream(data.images, ShiftFlip(), dataset=f"npz:{dataset}")
    v = torch.nn.functional.normalize(stream.embed(model, head="features"), dim=1).numpy()
    split = json.loads((out / "split.json").read_text())
    y = np.full(len(data.labels), -1)
    y[split["labeled"]] = data.labels[split["labeled"]]
    with warnings.catch_warnings():  # 20 CG iterations may stop above the tolerance
        warnings.simplefilter("ignore")
        ref = make_propagator("diffusion", n_neighbors=10, max_iter=20).propagate(v, y, 3)
    saved = np.load(out / "iterative" / "pseudo" / "epoch_000.npz")
    assert np.array_equal(saved["labels"], ref.labels)
    targets, omega, zeta = pseudo_targets(ref.probabilities, y, 3)
    np.testing.assert_allclose(saved["weights"], omega.astype(np.float16))
    np.testing.assert_allclose(saved["class_weights"], zeta, rtol=1e-6)
    acc = float(np.mean(ref.labels[y < 0] == data.labels[y < 0]))
    assert lines[0]["pseudo_label_accuracy"] == pytest.approx(acc)


class Killed(Exception):
    """Stands for the process being killed during stage 2."""


def test_resume_mid_stage_two_equals_uninterrupted(dataset, tmp_path):
    kill_at = 2
    cfg = config(dataset, iterative__mean_teacher=True)
    run_lpdssl(cfg, tmp_path / "whole")

    original = recipe_module.IterativePropagation.batches

    def dying(self, epoch):
        if epoch == kill_at:  # after epoch 1's checkpoint and epoch 2's propagation
            raise Killed()
        return original(self, epoch)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recipe_module.IterativePropagation, "batches", dying)
        with pytest.raises(Killed):
            run_lpdssl(cfg, tmp_path / "resumed")
    assert load_checkpoint(tmp_path / "resumed" / "iterative" / "checkpoint.pt")["epoch"] == 1
    run_lpdssl(cfg, tmp_path / "resumed")
    a = load_checkpoint(tmp_path / "whole" / "iterative" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "resumed" / "iterative" / "checkpoint.pt")
    for key in ("model", "teacher"):
        src = a[key] if key == "model" else a["task"]["teacher"]
        dst = b[key] if key == "model" else b["task"]["teacher"]
        for name, tensor in src.items():
            assert torch.equal(tensor, dst[name]), (key, name)  # bitwise on CPU
    for e in range(3):
        pa = np.load(tmp_path / "whole" / "iterative" / "pseudo" / f"epoch_{e:03d}.npz")
        pb = np.load(tmp_path / "resumed" / "iterative" / "pseudo" / f"epoch_{e:03d}.npz")
        assert np.array_equal(pa["labels"], pb["labels"])


def test_batches_hold_the_labeled_and_unlabeled_counts(dataset, tmp_path):
    run_lpdssl(config(dataset, iterative__epochs=1), tmp_path / "r")
    split = json.loads((tmp_path / "r" / "split.json").read_text())
    labeled = set(split["labeled"])
    from deeplabelprop.train.iterative import IterativePropagation

    data = load_dataset(f"npz:{dataset}", "train")
    y = np.full(len(data.labels), -1)
    y[split["labeled"]] = data.labels[split["labeled"]]
    task = IterativePropagation(
        ImageStream(data.images, ShiftFlip()),
        y,
        3,
        batch_labeled=8,
        batch_unlabeled=24,
        pseudo_labels="none",
    )
    batches = [idx.tolist() for idx, _ in task.batches(0)]
    assert len(batches) == task.steps_per_epoch == (300 - 9) // 24
    for b in batches:
        assert sum(i in labeled for i in b[:8]) == 8 and not any(i in labeled for i in b[8:])


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
    name, c, _ = load_recipe(cfg, ["iterative.entropy_weights=false"])
    assert name == "lpdssl" and c.iterative.entropy_weights is False
    code = main(
        ["run", str(cfg), "--set", "iterative.pseudo_labels=magic", "-o", str(tmp_path / "x")]
    )
    assert code == 2 and "iterative.pseudo_labels must be one of" in capsys.readouterr().err
