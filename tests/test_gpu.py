"""The GPU paths (issue 19), run by benchmarks/gpu_check.sh on a machine with a CUDA device and
deselected everywhere else (``-m gpu``): a resumed run is exact on the GPU, the solvers and the
augmentations agree with the CPU."""

import numpy as np
import pytest
import torch

from deeplabelprop import propagate
from deeplabelprop.data import InstanceAugment, ShiftFlip
from deeplabelprop.graph import l2_normalize
from deeplabelprop.train import TrainConfig, train
from deeplabelprop.train.precision import native_bfloat16
from tests.train.test_loop import KillAtEpoch, Killed, make

pytestmark = pytest.mark.gpu


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (4, 16, 16, 1), dtype=np.uint8)
    return np.repeat(base, 64, axis=0) // 2 + rng.integers(0, 64, (256, 16, 16, 1), dtype=np.uint8)


def on_cuda(images):
    model, task = make(images)
    task.stream.device = "cuda"
    task.bank.vectors = task.bank.vectors.cuda()
    return model.cuda(), task


def test_a_resumed_run_on_the_gpu_is_the_uninterrupted_one(images, tmp_path):
    config = TrainConfig(epochs=3, lr=0.05, progress=False)
    model, task = on_cuda(images)
    train(model, task, config, tmp_path / "whole")
    killed, killed_task = on_cuda(images)
    with pytest.raises(Killed):
        train(killed, KillAtEpoch(killed_task, 2), config, tmp_path / "resumed")
    resumed, resumed_task = on_cuda(images)
    train(resumed, resumed_task, config, tmp_path / "resumed")  # loads RNG states onto the CPU
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("method", ["diffusion", "harmonic", "spectral", "local"])
def test_propagation_on_the_gpu_agrees_with_the_cpu(method):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(5, 16))
    truth = rng.integers(0, 5, 3000)
    x = l2_normalize(centers[truth] + 0.3 * rng.normal(size=(3000, 16)))
    y = np.full(3000, -1)
    y[:50] = truth[:50]
    cpu = propagate(x, y, method, 5, device="cpu")
    gpu = propagate(x, y, method, 5, device="cuda")
    assert np.mean(cpu.labels == gpu.labels) > 0.999
    np.testing.assert_allclose(gpu.probabilities, cpu.probabilities, atol=1e-4)


@pytest.mark.parametrize("augment", [InstanceAugment(erase=0.5), ShiftFlip(2)])
def test_augmentations_on_the_gpu_are_the_cpu_ones(augment):
    x = torch.rand(16, 3, 24, 24)
    cpu = augment(x, torch.Generator().manual_seed(0))
    gpu = augment(x.cuda(), torch.Generator().manual_seed(0))
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-4)


def test_bfloat16_is_native_on_the_device_in_use():
    for i in range(torch.cuda.device_count()):
        major, _ = torch.cuda.get_device_capability(i)
        assert native_bfloat16(torch.device(f"cuda:{i}")) == (major >= 8)
