"""A small labeled-unlabeled folder with a finished run, fresh for every test that changes it
(the run records its folder's absolute path, so it cannot be copied elsewhere)."""

import pytest

from deeplabelprop.recipes import run_dmt
from tests.conftest import recipe_config
from tests.data.test_folder import user_folder
from tests.recipes.test_user_folder import small


def folder_run(base):
    root = user_folder(base / "photos")
    run_dmt(small(root), base / "run")
    return root, base / "run"


@pytest.fixture
def fresh_run(tmp_path):
    return folder_run(tmp_path)


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    """For tests that only read."""
    return folder_run(tmp_path_factory.mktemp("review"))


def digits_run(out):
    """A benchmark set of arrays (digits), 30 labels of its split."""
    cfg = recipe_config(
        "dmt",
        {
            "dataset": "digits",
            "n_labeled": 30,
            "width": 4,
            "metric": {"epochs": 1, "batch_size": 64},
            "propagate": {"method": "diffusion"},
            "finetune": {"epochs": 1, "batch_size": 64},
        },
    )
    run_dmt(cfg, out)
    return out
