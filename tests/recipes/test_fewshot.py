"""The fewshot recipe on a tiny generated data set (issue 20): every stage, the tables' numbers
from the per-episode accuracies, a rerun that recomputes nothing, bad input refused first."""

import json

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.fewshot import mean_and_interval
from deeplabelprop.recipes import run_fewshot
from tests.conftest import recipe_config

NAMES = ["a", "b", "c", "d", "e", "f", "g", "h"]


def eight_blocks(path, n_per_class=40, seed=0):
    """8 classes: a bright 4 × 4 block at one of 8 places of a 12 × 12 image, on noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(8), n_per_class)
    images = rng.integers(0, 80, (labels.size, 12, 12), dtype=np.uint8)
    for i, c in enumerate(labels):
        r, col = divmod(int(c), 4)
        images[i, 2 + 4 * r : 6 + 4 * r, 3 * col : 3 * col + 4] += 150
    np.savez(path, images=images, labels=labels, classes=np.array(NAMES))
    return path


def config(data, **over):
    base = {
        "dataset": f"npz:{data}",
        "model": "small-cnn",
        "width": 4,
        "classes": {"base": ["a", "b", "c"], "novel": ["d", "e", "f", "g", "h"]},
        "metric": {"source": "nca", "epochs": 2, "batch_size": 32},
        "episodes": {
            "n_way": 3,
            "shots": [1, 2],
            "n_query": 3,
            "pool_per_class": 5,
            "distractors": 1,
            "n_episodes": 10,
            "methods": ["diffusion", "knn-vote"],
        },
        "transfer": {"labels_per_class": [2], "methods": ["diffusion"], "own_metric": True},
    }
    return recipe_config("fewshot", base, over)


def test_fewshot_end_to_end_and_a_rerun(tmp_path):
    data = eight_blocks(tmp_path / "blocks.npz")
    out = tmp_path / "run"
    results = run_fewshot(config(data), out)
    table7 = results["tables"]["episodes (DMT Table 7)"]
    assert [r["method"] for r in table7] == [
        "nearest-neighbour",
        "prototypes",
        "soft-kmeans",
        "propagation:diffusion",
        "propagation:knn-vote",
    ]
    with np.load(out / "episodes" / "accuracy.npz") as z:
        for r, row in enumerate(table7):
            for k in (1, 2):
                assert z[f"{k}_shot"].shape == (5, 10)
                mean, half = mean_and_interval(z[f"{k}_shot"][r])
                assert row[f"{k}-shot"] == f"{100 * mean:.1f} ± {100 * half:.1f}"
    table6 = results["tables"]["transfer (DMT Table 6)"]
    assert [r["metric"] for r in table6] == [
        "base classes, nca",
        "novel classes' own images (S = U)",
    ]
    assert np.load(out / "features" / "features.npy").shape == (200, 128)  # the 5 novel classes
    record = json.loads((out / "run.json").read_text())
    assert all(s["status"] == "done" for s in record["stages"].values())
    assert json.loads((out / "tables.json").read_text()) == results["tables"]
    before = (out / "episodes" / "accuracy.npz").stat().st_mtime_ns
    assert run_fewshot(config(data), out)["tables"] == results["tables"]
    assert (out / "episodes" / "accuracy.npz").stat().st_mtime_ns == before
    with pytest.raises(InputError, match="episodes"):
        run_fewshot(config(data, episodes__n_episodes=11), out)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"classes__novel": ["d", "zz"]}, "novel class 'zz' is not a class"),
        ({"classes__novel": ["c", "d", "e"]}, "'c' is both a base and a novel class"),
        ({"episodes__n_way": 6}, "n_way = 6 exceeds the 5 novel classes"),
        ({"episodes__pool_per_class": 30}, "pool_per_class = 30 exceeds the 24 unlabeled"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(tmp_path, over, message):
    data = eight_blocks(tmp_path / "blocks.npz")
    with pytest.raises(InputError, match=message):
        run_fewshot(config(data, **over), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_data_set_without_a_class_split_says_how_to_give_one(tmp_path):
    data = eight_blocks(tmp_path / "blocks.npz")
    with pytest.raises(InputError, match="classes.base and classes.novel"):
        run_fewshot(config(data, classes={"labeled_fraction": 0.4}), tmp_path / "run")


def test_transfer_rows_against_brute_force():
    from deeplabelprop import propagate
    from deeplabelprop.fewshot import labeled_part
    from deeplabelprop.recipes.fewshot import TransferSettings, transfer_rows

    rng = np.random.default_rng(0)
    labels = np.repeat([3, 5, 7], 40)
    feats = rng.normal(size=(120, 4)) + 3.0 * np.eye(4)[labels % 4]
    feats[labels == 5] *= 3.0  # a class of large norm: a prototype row must use full distances
    labeled = labeled_part(labels, 0.5, 0)
    novel = np.array([3, 5, 7])
    t = TransferSettings(labels_per_class=(4,), methods=("diffusion",))
    (row,) = transfer_rows(feats, labels, labeled, novel, t, seed=2, metric="m")
    rng = np.random.default_rng([2, 4, 6])  # the same draws as the recipe
    y = np.full(120, -1)
    for e, c in enumerate(novel):
        y[rng.choice(np.flatnonzero(labeled & (labels == c)), 4, replace=False)] = e
    truth = np.searchsorted(novel, labels)
    means = [feats[y == e].mean(0) for e in range(3)]
    pred = [int(np.argmin([((f - m) ** 2).sum() for m in means])) for f in feats[~labeled]]
    assert row["prototypes"] == f"{100 * np.mean(np.array(pred) == truth[~labeled]):.1f}"
    result = propagate(feats, y, "diffusion", 3, calibration="none")
    assert row["diffusion"] == f"{100 * np.mean(result.labels[~labeled] == truth[~labeled]):.1f}"
