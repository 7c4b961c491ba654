"""The training loop: a short real run, exact resume, divergence and corruption handling (issue 4)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from deeplabelprop import InputError
from deeplabelprop.data import ImageStream, InstanceAugment
from deeplabelprop.models import build_model
from deeplabelprop.pretrain import InstanceDiscrimination, KnnMonitor
from deeplabelprop.train import TrainConfig, TrainingDiverged, load_checkpoint, train


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (4, 16, 16, 1), dtype=np.uint8)
    return np.repeat(base, 64, axis=0) // 2 + rng.integers(0, 64, (256, 16, 16, 1), dtype=np.uint8)


def make(images, seed=0):
    torch.manual_seed(seed)
    model = build_model("small-cnn", 1, width=4, embedding_dim=16)
    labels = np.repeat(np.arange(4), 64)
    stream = ImageStream(images, InstanceAugment(scale=(0.5, 1.0)), batch_size=64, seed=seed)
    task = InstanceDiscrimination(
        stream,
        embedding_dim=16,
        monitor=KnnMonitor(images[::8], labels[::8], 4),
        train_labels=labels,
    )
    return model, task


CONFIG = TrainConfig(epochs=3, lr=0.05, progress=False)


def test_short_run_writes_metrics_and_checkpoint(images, tmp_path):
    model, task = make(images)
    metrics = train(model, task, TrainConfig(epochs=2, progress=False), tmp_path)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [0, 1] and np.isfinite(lines[-1]["loss"])
    assert 0 <= metrics["knn_accuracy"] <= 1
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["train"]["epochs"] == 2 and "git_sha" in config
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1


class Killed(Exception):
    """Stands for the process being killed at an epoch boundary."""


class KillAtEpoch:
    """Wraps a task; the process 'dies' when epoch ``at`` starts (after the previous checkpoint)."""

    def __init__(self, task, at):
        self.task, self.at = task, at

    def __getattr__(self, name):
        return getattr(self.task, name)

    def batches(self, epoch):
        if epoch == self.at:
            raise Killed()
        return self.task.batches(epoch)


@pytest.mark.parametrize("mixed_precision", [False, True], ids=["float32", "bfloat16"])
def test_resume_equals_uninterrupted(images, tmp_path, mixed_precision):
    config = dataclasses.replace(CONFIG, mixed_precision=mixed_precision)
    model, task = make(images)
    train(model, task, config, tmp_path / "whole")
    killed_model, killed_task = make(images)
    with pytest.raises(Killed):
        train(killed_model, KillAtEpoch(killed_task, 2), config, tmp_path / "resumed")
    resumed_model, resumed_task = make(images)  # a fresh process: new objects, state from disk
    train(resumed_model, resumed_task, config, tmp_path / "resumed")
    for (name, a), b in zip(
        model.state_dict().items(), resumed_model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name  # bitwise on CPU
    assert torch.equal(task.bank.vectors, resumed_task.bank.vectors)
    whole = (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()
    again = (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()

    def strip(lines):
        return [{k: v for k, v in json.loads(x).items() if k != "train_seconds"} for x in lines]

    assert strip(whole) == strip(again)


class NaNAtEpoch:
    def __init__(self, task, at):
        self.task, self.at = task, at

    def __getattr__(self, name):
        return getattr(self.task, name)

    def loss(self, model, batch, step):
        loss, logs = self.task.loss(model, batch, step)
        return (loss * float("nan") if step >= self.at * self.task.steps_per_epoch else loss), logs


def test_non_finite_loss_stops_and_keeps_checkpoint(images, tmp_path):
    model, task = make(images)
    with pytest.raises(TrainingDiverged, match="loss is nan at epoch 2, by step"):
        train(model, NaNAtEpoch(task, 1), CONFIG, tmp_path)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 0 and all(
        torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point()
    )


def test_corrupted_checkpoint_and_changed_settings(images, tmp_path):
    model, task = make(images)
    train(model, task, TrainConfig(epochs=1, progress=False), tmp_path)
    good = (tmp_path / "checkpoint.pt").read_bytes()
    (tmp_path / "checkpoint.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="corrupted or truncated"):
        train(*make(images), TrainConfig(epochs=2, progress=False), tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(good)
    with pytest.raises(InputError, match="other settings"):
        train(*make(images), TrainConfig(epochs=2, lr=0.5, progress=False), tmp_path)


def test_two_view_objective_trains_and_updates_the_bank(images, tmp_path):
    torch.manual_seed(0)
    model = build_model("small-cnn", 1, width=4, embedding_dim=16)
    stream = ImageStream(images, InstanceAugment(scale=(0.5, 1.0)), batch_size=64)
    task = InstanceDiscrimination(stream, embedding_dim=16, objective="two-view", tau=0.2)
    before = task.bank.vectors.clone()
    metrics = train(model, task, TrainConfig(epochs=1, progress=False), tmp_path)
    assert np.isfinite(metrics["loss"])
    assert not torch.equal(before, task.bank.vectors)
    torch.testing.assert_close(task.bank.vectors.norm(dim=1), torch.ones(256))
    with pytest.raises(ValueError, match="objective"):
        InstanceDiscrimination(stream, objective="byol")
