"""The ``pretrain`` recipe end to end for each metric source, on the built-in digits (issues 4, 16)."""

import json
import math

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.data import ShiftFlip, load_dataset
from deeplabelprop.data.images.stream import ImageStream
from deeplabelprop.models.saved import load_model
from tests.conftest import run_recipe


@pytest.mark.parametrize("source", ["instance", "nca", "bootstrap"])
def test_each_source_writes_unit_features(source, tmp_path):
    metric = {"source": source, "epochs": 1, "batch_size": 128}
    metric["objective"] = "two-view" if source == "instance" else "memory-bank"
    results = run_recipe(
        "pretrain",
        {"dataset": "digits", "width": 4, "n_labeled": 20, "metric": metric},
        tmp_path / "r",
    )
    assert np.isfinite(results["loss"])
    feats = np.load(tmp_path / "r" / "features.npy")
    assert feats.shape == (1438, 128)  # digits' training part; a fixed fifth is the test set
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    saved = load_model(tmp_path / "r" / "encoder.pt")
    assert saved.preprocessing.size == (8, 8) and saved.preprocessing.mean == (0.3059,)
    assert (saved.classes is not None) == (source == "bootstrap")


def test_unknown_source_and_epochs_zero_write_nothing(tmp_path):
    with pytest.raises(InputError, match="metric.source='byol' is not valid"):
        run_recipe("pretrain", {"dataset": "digits", "metric": {"source": "byol"}}, tmp_path / "a")
    with pytest.raises(InputError, match="metric.epochs=0 is out of range"):
        run_recipe("pretrain", {"dataset": "digits", "metric": {"epochs": 0}}, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    "setting, match",
    [({"crop_scale": 0.0}, "crop_scale"), ({"jitter": 1.5}, "jitter"), ({"erase": -0.1}, "erase")],
)
def test_bad_augmentation_strength_writes_nothing(setting, match, tmp_path):
    with pytest.raises(InputError, match=match):
        run_recipe("pretrain", {"dataset": "digits", "metric": setting}, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_erasing_changes_the_run_and_stays_seeded(tmp_path):
    """erase > 0 is used: a different encoder than without it, the same one for the same seed."""
    feats = []
    for name, erase in (("a", 0.5), ("b", 0.5), ("c", 0.0)):
        metric = {"epochs": 1, "batch_size": 256, "objective": "two-view", "erase": erase}
        run_recipe("pretrain", {"dataset": "digits", "width": 4, "metric": metric}, tmp_path / name)
        feats.append(np.load(tmp_path / name / "features.npy"))
    np.testing.assert_array_equal(feats[0], feats[1])
    assert not np.allclose(feats[0], feats[2])


def test_final_knn_uses_the_clean_training_embeddings(dataset, tmp_path):
    """results.json's knn_accuracy_recomputed (Wu et al.'s final figure) equals a direct weighted
    kNN (K = 200, exp(s/0.1) votes) of the test embeddings against features.npy."""
    metric = {"epochs": 1, "batch_size": 64, "objective": "two-view"}
    out = tmp_path / "run"
    metrics = run_recipe(
        "pretrain", {"dataset": f"npz:{dataset}", "width": 4, "metric": metric}, out
    )
    saved = json.loads((out / "results.json").read_text())
    assert saved["knn_accuracy_recomputed"] == metrics["knn_accuracy_recomputed"]
    assert saved["epoch"] == 0 and "knn_accuracy" in saved  # the bank monitor, kept as well

    memory = np.load(out / "features.npy")
    memory_labels = np.load(out / "labels.npz")["truth"]
    test = load_dataset(f"npz:{dataset}", "test")
    encoder = load_model(out / "encoder.pt")
    stream = ImageStream(
        test.images, ShiftFlip(), normalization=encoder.preprocessing.normalization
    )
    query = stream.embed(encoder.network).numpy().astype(np.float64)
    correct = 0
    for q, truth in zip(query, test.labels, strict=True):
        s = memory.astype(np.float64) @ q
        votes = np.zeros(3)
        for j in np.argsort(-s)[:200]:
            votes[memory_labels[j]] += math.exp(s[j] / 0.1)
        correct += int(np.argmax(votes) == truth)
    assert saved["knn_accuracy_recomputed"] == correct / len(test.labels)
