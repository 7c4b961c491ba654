"""TOML configs with typed overrides; unknown keys and bad values are errors."""

from dataclasses import dataclass, field

import pytest

from deeplabelprop import InputError
from deeplabelprop.config import load_config, to_dict


@dataclass
class Inner:
    lr: float = 0.1
    epochs: int = 10


@dataclass
class Recipe:
    dataset: str = "fashion-mnist"
    n_labeled: int = 100
    seed: int = 0
    ratio: float | None = None
    fast: bool = False
    sizes: tuple[int, ...] = (40, 100)
    train: Inner = field(default_factory=Inner)


def test_toml_and_overrides(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('dataset = "digits"\nn_labeled = 40\n[train]\nlr = 0.05\n')
    c = load_config(
        Recipe, p, ["seed=3", "train.epochs=2", "ratio=0.5", "fast=true", "sizes=1,2,3"]
    )
    assert c == Recipe("digits", 40, 3, 0.5, True, (1, 2, 3), Inner(0.05, 2))
    assert load_config(Recipe, None, ["ratio=none"]).ratio is None
    assert to_dict(c)["train"]["lr"] == 0.05


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["n_labled=10"], "unknown setting"),
        (["train.lrr=1"], "unknown setting(s) train.lrr"),
        (["n_labeled=1.5"], "n_labeled must be an integer"),
        (["fast=maybe"], "must be true or false"),
        (["train.lr=fast"], "train.lr must be a number"),
        (["seed"], "expects key=value"),
    ],
)
def test_bad_settings(overrides, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(Recipe, None, overrides)


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_config(Recipe, tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("dataset = ")
    with pytest.raises(InputError, match="not valid TOML"):
        load_config(Recipe, tmp_path / "bad.toml")
