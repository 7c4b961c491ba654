"""Each recipe beats training on the labels alone (issue 16), on real data where propagation must
help: scikit-learn's digits with 10 labels, one per class, seed 0, every recipe starting from the
same instance-discrimination metric (trained once here, ~5 s).

Measured with these exact settings (2 cores; float32 / bfloat16 autocast), test accuracy on the
359 held-out digits:

=============================================  ===============  ===============
row                                            float32          bfloat16
=============================================  ===============  ===============
supervised from scratch on the 10 labels       52.7 %           54.3 %
the metric finetuned on the 10 labels only     69.4 %           69.9 %
dmt (spectral)                                 89.4 %           86.9 %
lpdssl (diffusion every epoch)                 88.6 %           83.8 %
llp (LLP's local vote)                         67.4 %           64.4 %
=============================================  ===============  ===============

dmt and lpdssl beat the labels-only finetune of the same metric by 14-20 points; llp does not
(LLP's density-weighted vote among the K nearest labeled rows, with one label per class, labels
the digits worse than the finetuned classifier does), but it beats training on the labels alone
by 10-15 points. The thresholds below hold for both precisions with a margin; with one label per
class other seeds vary by several points (issue 16's note has them).
"""

import pytest

from tests.conftest import run_recipe

BASE = {"dataset": "digits", "model": "small-cnn", "width": 16, "n_labeled": 10, "seed": 0}
METRIC = {
    "source": "instance",
    "objective": "two-view",
    "epochs": 40,
    "lr": 0.06,
    "tau": 0.2,
    "batch_size": 128,
    "crop_scale": 0.5,
}
FINETUNE = {"epochs": 30, "batch_size": 64, "shift": 1}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    run_recipe("pretrain", {**BASE, "metric": METRIC}, root / "metric")
    metric = {"source": "checkpoint", "checkpoint": str(root / "metric" / "encoder.pt")}
    plans = {
        "scratch": (
            "dmt",
            {"metric": {"source": "none"}, "finetune": {**FINETUNE, "use_pseudo_labels": False}},
        ),
        "labels_only": (
            "dmt",
            {"metric": metric, "finetune": {**FINETUNE, "use_pseudo_labels": False}},
        ),
        "dmt": (
            "dmt",
            {
                "metric": metric,
                "propagate": {"method": "spectral", "n_neighbors": 10, "n_components": 40},
                "finetune": FINETUNE,
            },
        ),
        "lpdssl": (
            "lpdssl",
            {
                "metric": metric,
                "supervised": {"epochs": 0},
                "propagate": {"n_neighbors": 10, "max_iter": 20},
                "iterative": {
                    "epochs": 10,
                    "batch_labeled": 16,
                    "batch_unlabeled": 48,
                    "descriptor": "embed",
                    "shift": 1,
                },
            },
        ),
        "llp": ("llp", {"metric": metric, "llp": {"epochs": 10, "batch_size": 64, "shift": 1}}),
    }
    return {
        name: run_recipe(recipe, {**BASE, **data}, root / name)["test_accuracy"]
        for name, (recipe, data) in plans.items()
    }


def test_dmt_beats_the_labels_only_finetune_of_the_same_metric(runs):
    assert runs["dmt"] >= runs["labels_only"] + 0.10, runs


def test_lpdssl_beats_the_labels_only_finetune_of_the_same_metric(runs):
    assert runs["lpdssl"] >= runs["labels_only"] + 0.08, runs


def test_llp_beats_training_on_the_labels_alone(runs):
    assert runs["llp"] >= runs["scratch"] + 0.06, runs


def test_the_metric_itself_helps(runs):
    assert runs["labels_only"] >= runs["scratch"] + 0.08, runs
