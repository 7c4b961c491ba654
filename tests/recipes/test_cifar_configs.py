"""The shipped CIFAR-10 configs of every recipe run end to end (--fast-dev-run) on tiny files
written in the real CIFAR-10 python format."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from deeplabelprop.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "src" / "deeplabelprop" / "configs" / "cifar10"


@pytest.fixture(scope="module")
def cifar10(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)

    def batch(n, offset):
        labels = (np.arange(n) + offset) % 10  # every class present
        data = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        data[:, 0, :, :] = (labels * 25)[:, None, None]  # a class signal in the red channel
        return {
            b"labels": labels.tolist(),
            b"data": data.reshape(n, 3072),
            b"filenames": [b"f"] * n,
        }

    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch(24, i), protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(batch(20, 0), protocol=2))
    names = [f"class{c}".encode() for c in range(10)]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return root


@pytest.mark.parametrize(
    "recipe, extra",
    [
        ("dmt", []),
        ("lpdssl", ["iterative.batch_labeled=10", "iterative.batch_unlabeled=30"]),
        ("llp", []),
    ],
)
def test_cifar10_config_runs(cifar10, tmp_path, recipe, extra):
    args = ["run", str(CONFIGS / f"{recipe}.toml"), "--fast-dev-run", "-o", str(tmp_path / "r")]
    for s in [f"data_dir={cifar10}", "n_labeled=20", *extra]:
        args += ["--set", s]
    assert main(args) == 0
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert 0 <= results["test_accuracy"] <= 1
    assert np.load(tmp_path / "r" / "test_predictions.npy").shape == (20,)
