"""`run_pretraining` end to end for each metric source, on the built-in digits (issue 4)."""

import json
import math

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.data import ShiftFlip, load_dataset
from deeplabelprop.data.stream import ImageStream
from deeplabelprop.pretrain.run import PretrainConfig, run_pretraining
from deeplabelprop.recipes.common import encoder_model, load_encoder


@pytest.mark.parametrize("method", ["instance", "nca", "bootstrap"])
def test_each_method_writes_unit_features(method, tmp_path):
    cfg = PretrainConfig(
        dataset="digits",
        method=method,
        epochs=1,
        width=4,
        batch_size=128,
        n_labeled=20,
        objective="two-view" if method == "instance" else "memory-bank",
    )
    metrics = run_pretraining(cfg, tmp_path, progress=False)
    assert np.isfinite(metrics["loss"])
    feats = np.load(tmp_path / "features.npy")
    assert feats.shape == (1797, 128)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    assert np.load(tmp_path / "targets.npy").shape == (1797,)


def test_unknown_method(tmp_path):
    with pytest.raises(InputError, match="unknown pretraining method"):
        run_pretraining(PretrainConfig(dataset="digits", method="byol"), tmp_path)


@pytest.mark.parametrize(
    "setting, match",
    [({"crop_scale": 0.0}, "crop_scale"), ({"jitter": 1.5}, "jitter"), ({"erase": -0.1}, "erase")],
)
def test_bad_augmentation_strength_writes_nothing(setting, match, tmp_path):
    with pytest.raises(InputError, match=match):
        run_pretraining(PretrainConfig(dataset="digits", **setting), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_erasing_changes_the_run_and_stays_seeded(tmp_path):
    """erase > 0 is used: a different encoder than without it, the same one for the same seed."""
    base = dict(dataset="digits", epochs=1, width=4, batch_size=256, objective="two-view")
    feats = []
    for name, erase in (("a", 0.5), ("b", 0.5), ("c", 0.0)):
        run_pretraining(PretrainConfig(**base, erase=erase), tmp_path / name, progress=False)
        feats.append(np.load(tmp_path / name / "features.npy"))
    np.testing.assert_array_equal(feats[0], feats[1])
    assert not np.allclose(feats[0], feats[2])


def test_final_knn_uses_the_clean_training_embeddings(dataset, tmp_path):
    """results.json's knn_accuracy_recomputed (Wu et al.'s final figure) equals a direct weighted
    kNN (K = 200, exp(s/0.1) votes) of the test embeddings against features.npy."""
    cfg = PretrainConfig(
        dataset=f"npz:{dataset}", epochs=1, width=4, batch_size=64, objective="two-view"
    )
    metrics = run_pretraining(cfg, tmp_path, progress=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["knn_accuracy_recomputed"] == metrics["knn_accuracy_recomputed"]
    assert saved["epoch"] == 0 and "knn_accuracy" in saved  # the bank monitor, kept as well

    memory, memory_labels = np.load(tmp_path / "features.npy"), np.load(tmp_path / "targets.npy")
    test = load_dataset(f"npz:{dataset}", "test")
    model = encoder_model(load_encoder(tmp_path / "encoder.pt", "cpu"), "cpu")
    stream = ImageStream(test.images, ShiftFlip(), device="cpu", dataset=cfg.dataset)
    query = stream.embed(model).numpy().astype(np.float64)
    correct = 0
    for q, truth in zip(query, test.labels, strict=True):
        s = memory.astype(np.float64) @ q
        votes = np.zeros(3)
        for j in np.argsort(-s)[:200]:
            votes[memory_labels[j]] += math.exp(s[j] / 0.1)
        correct += int(np.argmax(votes) == truth)
    assert saved["knn_accuracy_recomputed"] == correct / len(test.labels)
