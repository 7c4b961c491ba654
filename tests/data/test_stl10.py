"""STL-10 read from small files in the official binary format (issue 16's example of a data set
added in two files; the real archive is 2.6 GB)."""

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.data import LoadOptions, load_dataset, load_problem
from tests.conftest import run_recipe

CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def write_stl10(root, n_train=20, n_unlabeled=30, n_test=10, seed=0):
    """The binary format: each image channel by channel, every channel in column-major order."""
    rng = np.random.default_rng(seed)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    images = {}
    for name, n in (("train", n_train), ("unlabeled", n_unlabeled), ("test", n_test)):
        hwc = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
        hwc[:, :10, :, :] = 255 * (np.arange(n) % 10 < 5)[:, None, None, None]  # a class signal
        images[name] = hwc
        stored = np.stack([np.stack([hwc[i, :, :, c].T for c in range(3)]) for i in range(n)])
        stored.tofile(folder / f"{name}_X.bin")
    for name, n in (("train", n_train), ("test", n_test)):
        (np.arange(n) % 10 + 1).astype(np.uint8).tofile(folder / f"{name}_y.bin")
    (folder / "class_names.txt").write_text("\n".join(CLASSES) + "\n")
    return root, images


def test_reads_the_official_layout(tmp_path):
    root, images = write_stl10(tmp_path / "stl")
    train = load_dataset("stl10", data_dir=root)
    test = load_dataset("stl10", "test", data_dir=root)
    assert train.classes == tuple(CLASSES) and train.shape == (96, 96, 3) and len(train) == 50
    assert np.array_equal(train.labels[:20], np.arange(20) % 10) and (train.labels[20:] == -1).all()
    assert np.array_equal(train.images[np.arange(20)], images["train"])
    assert np.array_equal(train.images[np.arange(20, 50)], images["unlabeled"])
    mixed = np.stack([images["train"][3], images["unlabeled"][5], images["train"][4]])
    assert np.array_equal(train.images[[3, 25, 4]], mixed)  # rows from both parts, in order
    assert np.array_equal(np.asarray(test.images), images["test"]) and test.labels.tolist() == list(
        range(10)
    )
    problem = load_problem("stl10", LoadOptions(data_dir=str(root)), n_labeled=10)  # its own labels
    assert (problem.given >= 0).sum() == 20 and problem.truth is None and len(problem.test) == 10


def test_missing_or_damaged_files_are_clear(tmp_path):
    with pytest.raises(InputError, match="not found in .*pass --data-dir"):
        load_dataset("stl10", data_dir=tmp_path)
    root, _ = write_stl10(tmp_path / "stl")
    (root / "stl10_binary" / "train_y.bin").write_bytes(bytes([11] * 20))
    with pytest.raises(InputError, match="must hold 20 labels in 1..10"):
        load_dataset("stl10", data_dir=root)


def test_a_recipe_runs_on_it(tmp_path):
    root, _ = write_stl10(tmp_path / "stl")
    run_recipe(
        "dmt",
        {"dataset": "stl10", "data_dir": str(root), "width": 4},
        tmp_path / "r",
        fast_dev_run=True,
    )
    assert (tmp_path / "r" / "pseudo_labels.csv").exists()
