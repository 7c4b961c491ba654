"""Loading a file runs no code (issue 16): encoders and checkpoints load with weights_only."""

import os

import pytest
import torch

from deeplabelprop import InputError
from deeplabelprop.models import build_model
from deeplabelprop.models.saved import Preprocessing, load_model, save_model
from deeplabelprop.train import load_checkpoint
from tests.conftest import recipe_config


class Payload:
    """What a malicious encoder.pt carries: unpickling it runs a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def malicious(tmp_path):
    path, marker = tmp_path / "encoder.pt", tmp_path / "pwned"
    network = build_model("small-cnn", 1, width=4)
    torch.save(
        {"format": "deeplabelprop.model/1", "model": network.state_dict(), "x": Payload(marker)},
        path,
    )
    return path, marker


def test_a_crafted_pickle_is_refused_and_runs_nothing(malicious, dataset, tmp_path):
    path, marker = malicious
    for load in (lambda: load_model(path), lambda: load_checkpoint(path)):
        with pytest.raises(InputError, match="refusing to load it, as that could run code"):
            load()
    with pytest.raises(InputError, match="refusing to load"):  # before any run folder exists
        recipe_config(
            "dmt",
            {
                "dataset": f"npz:{dataset}",
                "metric": {"source": "checkpoint", "checkpoint": str(path)},
            },
        )
    assert not marker.exists()


def test_a_saved_model_round_trips(tmp_path):
    torch.manual_seed(0)
    network = build_model("small-cnn", 3, n_classes=4, width=4)
    build = {
        "name": "small-cnn",
        "in_channels": 3,
        "n_classes": 4,
        "embedding_dim": 128,
        "width": 4,
    }
    pre = Preprocessing((16, 12), 3, (0.1, 0.2, 0.3), (0.4, 0.5, 0.6), "squash")
    save_model(tmp_path / "m.pt", network, build, pre, classes=["a", "b", "c", "d"], dataset="x")
    saved = load_model(tmp_path / "m.pt")
    assert (
        saved.preprocessing == pre
        and saved.classes == ("a", "b", "c", "d")
        and saved.build == build
    )
    for (k, a), b in zip(
        network.state_dict().items(), saved.network.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k


def test_weights_of_another_shape_name_the_first_key(tmp_path):
    network = build_model("small-cnn", 1, width=4)
    build = {
        "name": "small-cnn",
        "in_channels": 1,
        "n_classes": None,
        "embedding_dim": 128,
        "width": 8,
    }
    save_model(tmp_path / "m.pt", network, build, Preprocessing((8, 8), 1, (0.5,), (0.25,)))
    with pytest.raises(InputError, match=r"backbone\.body\.0\.weight has shape \(4, 1, 5, 5\)"):
        load_model(tmp_path / "m.pt")
