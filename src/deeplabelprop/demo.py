"""The demo: Deep Metric Transfer on scikit-learn's digits from 10 labels (one per class).

1,437 training images (a fixed fifth, 360 images, is the test set), 8 × 8 grey. The rows of DMT
Table 2 in miniature: a classifier trained on the 10 labels alone; the same after instance
pretraining (finetune without propagation); and with pseudo labels from kNN-vote and from
spectral propagation, weighted by confidence. About a minute on 2 CPU cores.
"""

from __future__ import annotations

import tempfile
import time
import tomllib
from importlib import resources
from pathlib import Path

from .config import from_dict
from .recipes.dmt import DMTConfig, run_dmt


def demo_config(**changes) -> DMTConfig:
    """The packaged configs/digits/dmt.toml, with ``section__key=value`` changes."""
    text = resources.files("deeplabelprop").joinpath("configs/digits/dmt.toml").read_text()
    data = tomllib.loads(text)
    data.pop("recipe")
    for key, value in changes.items():
        section, _, leaf = key.partition("__")
        if leaf:
            data.setdefault(section, {})[leaf] = value
        else:
            data[section] = value
    return from_dict(DMTConfig, data)


def run_demo(seed: int = 0, workdir: str | Path | None = None) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(workdir or tmp)
        rows = []
        plans = [
            (
                "supervised on the 10 labels",
                dict(metric__source="none", finetune__use_pseudo_labels=False),
            ),
            ("instance pretraining, no propagation", dict(finetune__use_pseudo_labels=False)),
            (
                "+ kNN-vote pseudo labels",
                dict(metric__source="checkpoint", propagate__method="knn-vote"),
            ),
            (
                "+ spectral pseudo labels",
                dict(metric__source="checkpoint", propagate__method="spectral"),
            ),
        ]
        encoder = root / "row1" / "metric" / "encoder.pt"
        for i, (name, changes) in enumerate(plans):
            if changes.get("metric__source") == "checkpoint":
                changes["metric__checkpoint"] = str(encoder)
            t = time.perf_counter()
            res = run_dmt(demo_config(seed=seed, **changes), root / f"row{i}")
            rows.append((name, res, time.perf_counter() - t))
    out = [
        f"Deep Metric Transfer on scikit-learn digits: 1,437 training images, 10 labels (one per class, "
        f"seed {seed}); test accuracy on 360 held-out images",
        f"{'':40}{'test acc':>9}{'pseudo acc':>12}{'mAP':>7}{'time':>8}",
    ]
    for name, res, sec in rows:
        pa = (
            f"{100 * res['pseudo_label_accuracy']:10.1f}%"
            if "pseudo_label_accuracy" in res
            else f"{'-':>11}"
        )
        m = f"{100 * res['pseudo_label_map']:6.1f}" if "pseudo_label_map" in res else f"{'-':>6}"
        out.append(f"{name:40}{100 * res['test_accuracy']:8.1f}%{pa} {m}{sec:7.1f}s")
    return "\n".join(out)
