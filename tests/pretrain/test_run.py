"""`run_pretraining` end to end for each metric source, on the built-in digits (issue 4)."""

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.pretrain.run import PretrainConfig, run_pretraining


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
