"""Recipe ``pretrain``: train a metric alone (``deeplabelprop pretrain``), for propagation over
its ``features.npy`` or for transfer to other data (``metric.source = "checkpoint"``).

The run folder holds ``encoder.pt``, ``features.npy``, ``checkpoint.pt`` (every epoch: a killed
run resumes), ``metrics.jsonl`` and ``results.json``. On a fully labeled data set NCA uses every
label (the labeled source set S of DMT §4.2); bootstrap uses the ``n_labeled`` split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import save_npz
from ..config import setting
from ..pretrain import MetricSettings
from .common import device_of
from .metric_stage import LABELED_METRICS, check_metric, metric_stage
from .registry import register_recipe
from .run_dir import open_problem, open_run
from .settings import RecipeConfig


@dataclass
class PretrainConfig(RecipeConfig):
    metric: MetricSettings = setting(factory=MetricSettings)


def check_pretrain(cfg: PretrainConfig) -> None:
    check_metric(cfg.metric, "metric", allowed=("instance", "nca", "bootstrap"))


@register_recipe("pretrain", PretrainConfig, check=check_pretrain)
def run_pretrain(
    cfg: PretrainConfig, out_dir: str | Path, *, progress: bool = False, fast_dev_run: bool = False
) -> dict:
    """Train (or resume) the metric into ``out_dir``; returns its final metrics."""
    run = open_run(
        out_dir,
        "pretrain",
        cfg,
        {"metric": cfg.stage_settings("metric")},
        fast_dev_run=fast_dev_run,
    )
    # instance discrimination reads no label: a folder nobody has labeled yet is enough
    labels_required = cfg.metric.source in LABELED_METRICS
    problem = open_problem(run, cfg, progress=progress, labels_required=labels_required)
    nca_source = cfg.metric.source == "nca" and problem.truth is not None
    metric_stage(
        run,
        cfg.metric,
        cfg,
        problem,
        device_of(cfg),
        folder=run.path,
        labels=problem.truth if nca_source else None,
        progress=progress,
    )
    run.output("epochs", "metrics.jsonl")
    write_features_by_file(run, problem)
    return run.finish(json.loads((run.path / "results.json").read_text()))


def write_features_by_file(run, problem) -> None:
    """``features.npz`` beside ``features.npy``: the features with each image's path, its
    given label (-1 unknown) and the class names, in ``embed``'s format, so ``suggest`` and
    ``propagate`` key their outputs by file."""
    arrays = {
        "features": np.load(run.path / "features.npy"),
        "labels": problem.given,
        "classes": np.asarray(problem.classes, dtype=str),
        "paths": np.asarray(problem.train.example_names(), dtype=str),
    }
    save_npz(run.path / "features.npz", **arrays)
    run.output("features_by_file", "features.npz")
