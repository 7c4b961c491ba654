"""The demo: Deep Metric Transfer on scikit-learn's digits from 10 labels (one per class).

1,437 training images (a fixed fifth, 360 images, is the test set), 8 × 8 grey. The rows of DMT
Table 2 in miniature: a classifier trained on the 10 labels alone; the same after instance
pretraining (finetune without propagation); and with pseudo labels from kNN-vote and from
spectral propagation, weighted by confidence. About a minute on 2 CPU cores.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from .recipes.dmt import DMTConfig, FinetuneSettings, MetricSettings, PropagateSettings, run_dmt


def demo_config(**changes) -> DMTConfig:
    """The digits setting of configs/digits/dmt.toml."""
    metric = MetricSettings(
        source="instance",
        objective="two-view",
        epochs=40,
        lr=0.06,
        tau=0.2,
        batch_size=128,
        crop_scale=0.5,
    )
    propagate = PropagateSettings(method="spectral", n_neighbors=10, n_components=40)
    finetune = FinetuneSettings(epochs=30, lr=0.05, batch_size=64, shift=1)
    cfg = DMTConfig(
        dataset="digits",
        model="small-cnn",
        width=16,
        n_labeled=10,
        seed=0,
        metric=metric,
        propagate=propagate,
        finetune=finetune,
    )
    for key, value in changes.items():
        section, _, leaf = key.partition("__")
        setattr(getattr(cfg, section), leaf, value) if leaf else setattr(cfg, section, value)
    return cfg


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
