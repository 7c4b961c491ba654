"""Every shipped config runs as is with --fast-dev-run (issue 16): the CIFAR-10 ones on tiny
files written in the real CIFAR-10 python format, digits built in, Fashion-MNIST from its Debian
package (`apt-get install dataset-fashion-mnist`, which CI installs)."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from deeplabelprop.cli import main

ROOT = Path(__file__).resolve().parents[2] / "src" / "deeplabelprop" / "configs"
CONFIGS = ROOT / "cifar10"
FASHION = Path("/usr/share/datasets/fashion-mnist")


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
    check_results(tmp_path / "r", n_test=20)


def check_results(run, n_test):
    """The reported test accuracy is the saved predictions' against the test labels."""
    results = json.loads((run / "results.json").read_text())
    predictions = np.load(run / "test_predictions.npy")
    truth = np.load(run / "labels.npz")["test_truth"]
    assert predictions.shape == (n_test,)
    assert results["test_accuracy"] == pytest.approx(float(np.mean(predictions == truth)))


@pytest.mark.parametrize(
    "config",
    sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("*/*.toml") if p.parent.name != "cifar10"),
)
def test_shipped_config_runs_as_is(config, tmp_path):
    if config.startswith("fashion-mnist") and not FASHION.is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist to run (CI does)")
    assert main(["run", str(ROOT / config), "--fast-dev-run", "-o", str(tmp_path / "r")]) == 0
    if config.endswith("pretrain.toml"):
        assert (tmp_path / "r" / "encoder.pt").exists()
    elif config.endswith("fewshot.toml"):  # tables, not a classifier
        tables = json.loads((tmp_path / "r" / "tables.json").read_text())
        assert len(tables["episodes (DMT Table 7)"]) == 6
    else:
        check_results(tmp_path / "r", n_test=359 if config.startswith("digits") else 512)
