"""Recipe ``fewshot``: few-shot recognition with unlabeled data and transfer across classes
(DMT §4.2-4.3, Tables 6-7).

Stage ``metric``: a metric learned on the *base* classes only: supervised (``nca`` or
``bootstrap`` on their labeled part) or unsupervised (``instance``, their images without labels);
or taken from elsewhere (``checkpoint``, ``pretrained``). Stage ``features``: the novel classes'
images through it. Stage ``episodes`` (Table 7): N-way K-shot episodes on the novel classes,
each row (nearest neighbour, prototypes, soft k-means, propagation with each method through the
pool and the queries) on the same episodes; mean accuracy with its 95 % interval and the time
per episode. Stage ``transfer`` (Table 6 in spirit): the novel classes as a semi-supervised
problem with a few labels per class, propagated over the base-class metric and, with
``transfer.own_metric``, over a metric trained on the novel classes' own images without labels
(S = U). Every class is split once into a labeled part (``classes.labeled_fraction``, DMT: 40 %)
and an unlabeled part; shots, queries and transfer labels come from the labeled part.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .._params import Interval, Options
from ..atomic import atomic_path, save_npy, save_npz
from ..config import setting
from ..data import Problem, ShiftFlip
from ..data.images.stream import ImageStream
from ..data.problem.class_splits import ClassSplit, class_split
from ..errors import InputError
from ..fewshot import EpisodeSpec, evaluate, labeled_part, mean_and_interval, rows, sample_episodes
from ..fewshot.classifiers import class_means, squared_distances
from ..fewshot.episodes import check_spec
from ..models import BACKBONES
from ..models.saved import load_model
from ..pretrain import MetricSettings
from ..propagation import Pipeline, check_method_params
from ..propagation.base import unlogged
from .common import device_of, stage_seconds
from .metric_stage import check_metric, metric_stage
from .registry import register_recipe
from .run_dir import open_problem, open_run
from .settings import RecipeConfig

logger = logging.getLogger(__name__)


@dataclass
class ClassSettings:
    """The class split (default: the data set's own) and the labeled share of every class."""

    base: tuple[str, ...] | None = None
    novel: tuple[str, ...] | None = None
    labeled_fraction: float = setting(0.4, Interval(0, 1, closed="neither"))


@dataclass
class EpisodeSettings:
    """Table 7: ``n_episodes`` N-way episodes for each K in ``shots``; ``methods`` are the
    propagation rows (each with its paper defaults, sizes fitted to the episode)."""

    n_way: int = setting(5, Interval(2, None, integer=True))
    shots: tuple[int, ...] = (1, 5)
    n_query: int = setting(15, Interval(1, None, integer=True))
    pool_per_class: int | None = setting(100, Interval(1, None, integer=True, allow_none=True))
    distractors: int = setting(1, Interval(0, None, integer=True))
    n_episodes: int = setting(300, Interval(1, None, integer=True))
    methods: tuple[str, ...] = ("spectral", "diffusion", "knn-vote")
    soft_kmeans_tau: float = setting(0.1, Interval(0, None, closed="neither"))


@dataclass
class TransferSettings:
    """Table 6 in spirit: ``labels_per_class`` labels of each novel class; ``own_metric``: also
    a metric trained (instance discrimination, the ``[metric]`` settings) on the novel classes'
    images without labels."""

    labels_per_class: tuple[int, ...] = (5, 20)
    methods: tuple[str, ...] = ("spectral", "diffusion")
    own_metric: bool = False


@dataclass
class FewShotConfig(RecipeConfig):
    model: str = setting("conv4", Options(tuple(sorted(BACKBONES))))  # DMT §4.3: four conv layers
    classes: ClassSettings = setting(factory=ClassSettings)
    metric: MetricSettings = setting(factory=lambda: MetricSettings(source="nca"))
    episodes: EpisodeSettings = setting(factory=EpisodeSettings)
    transfer: TransferSettings = setting(factory=TransferSettings)


def check_fewshot(cfg: FewShotConfig) -> None:
    check_metric(
        cfg.metric, "metric", allowed=("instance", "nca", "bootstrap", "checkpoint", "pretrained")
    )
    e = cfg.episodes
    if not e.shots or min(e.shots) < 1:
        raise InputError("episodes.shots must list shot counts of at least 1, e.g. [1, 5]")
    if not cfg.transfer.labels_per_class or min(cfg.transfer.labels_per_class) < 1:
        raise InputError("transfer.labels_per_class must list counts of at least 1")
    for name in (*e.methods, *cfg.transfer.methods):
        check_method_params(name, {})  # an unknown method is named now


def split_of(cfg: FewShotConfig, classes: tuple[str, ...]) -> ClassSplit:
    """The configured class split, else the data set's, checked against its classes."""
    c = cfg.classes
    if (c.base is None) != (c.novel is None):
        raise InputError("set both classes.base and classes.novel, or neither")
    split = (
        ClassSplit(tuple(c.base), tuple(c.novel))
        if c.base is not None
        else class_split(cfg.dataset, cfg.load_options())
    )
    split.check(classes, "classes")
    return split


def codes(classes: tuple[str, ...], names) -> np.ndarray:
    index = {name: i for i, name in enumerate(classes)}
    return np.array([index[n] for n in names], dtype=np.int64)


def base_problem(problem: Problem, truth: np.ndarray, labeled: np.ndarray, split) -> Problem:
    """The base classes as the metric's problem: their images, labels on the labeled part."""
    base = codes(problem.classes, split.base)
    rows_ = np.flatnonzero(np.isin(truth, base))
    remap = np.full(len(problem.classes), -1)
    remap[base] = np.arange(base.size)
    images = problem.train.subset(rows_)
    images = replace(images, labels=remap[truth[rows_]], classes=tuple(split.base))
    given = np.where(labeled[rows_], remap[truth[rows_]], -1)
    return Problem(images, given, None, None, None)


def novel_features(run, problem: Problem, rows_: np.ndarray, encoder, device, name: str):
    """Stage ``name``: the encoder's unit embeddings of ``problem.train[rows_]``."""
    path = run.path / name / "features.npy"
    if not run.done(name):
        with run.stage(name) as folder:
            saved = load_model(Path(encoder), device, what="encoder")
            stream = ImageStream(
                problem.train.subset(rows_).images,
                ShiftFlip(),
                device=device,
                normalization=saved.preprocessing.normalization,
            )
            folder.mkdir(parents=True, exist_ok=True)
            save_npy(path, stream.embed(saved.network).cpu().numpy().astype(np.float32))
    return np.load(path)


def table_rows(names, acc_by_shot: dict, seconds_by_shot: dict, shots) -> list[dict]:
    """Table 7's layout: one row per method, a column per K (mean ± 95 % interval, %)."""
    out = []
    for r, name in enumerate(names):
        row = {"method": name}
        for k in shots:
            mean, half = mean_and_interval(acc_by_shot[k][r])
            row[f"{k}-shot"] = f"{100 * mean:.1f} ± {100 * half:.1f}"
            row[f"ms/episode ({k}-shot)"] = f"{1000 * seconds_by_shot[k][r]:.1f}"
        out.append(row)
    return out


def episodes_stage(run, cfg: FewShotConfig, feats, labels, labeled, novel) -> list[dict]:
    """Stage ``episodes``: every row on the same episodes; writes accuracy.npz, table.json."""
    e = cfg.episodes
    path = run.path / "episodes" / "table.json"
    if not run.done("episodes"):
        with run.stage("episodes") as folder:
            table = rows({m: {} for m in e.methods}, tau=e.soft_kmeans_tau)
            acc, seconds = {}, {}
            for k in e.shots:
                spec = EpisodeSpec(e.n_way, k, e.n_query, e.pool_per_class, e.distractors)
                episodes = sample_episodes(labels, labeled, novel, spec, e.n_episodes, cfg.seed)
                with unlogged():  # thousands of small propagations: no line each
                    acc[k], seconds[k], warned = evaluate(feats, episodes, table)
                for name, count in zip(table, warned, strict=True):
                    if count:
                        logger.warning(
                            "%d-shot, %s: %d of %d episodes left a class without any query or "
                            "pool point (DataWarning); their accuracy counts as it is",
                            k,
                            name,
                            count,
                            len(episodes),
                        )
            folder.mkdir(parents=True, exist_ok=True)
            save_npz(
                folder / "accuracy.npz",
                **{f"{k}_shot": acc[k] for k in e.shots},
                rows=np.asarray(list(table), dtype=str),
            )
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(table_rows(list(table), acc, seconds, e.shots), indent=1))
    return json.loads(path.read_text())


def transfer_rows(feats, labels, labeled, novel, t: TransferSettings, seed: int, metric: str):
    """Accuracy on the novel classes' unlabeled part from ``labels_per_class`` labels each
    (seeded, from the labeled part), propagated with each method; prototypes as the row
    without unlabeled data."""
    out = []
    for n in t.labels_per_class:
        rng = np.random.default_rng([seed, n, 6])
        y = np.full(labels.size, -1)
        for e, c in enumerate(novel):
            have = np.flatnonzero(labeled & (labels == c))
            if n > have.size:
                raise InputError(
                    f"transfer.labels_per_class = {n} exceeds the {have.size} labeled examples "
                    f"of a novel class; lower it or raise classes.labeled_fraction"
                )
            y[rng.choice(have, n, replace=False)] = e
        truth = np.searchsorted(novel, labels)
        target = ~labeled
        means = class_means(feats[y >= 0], y[y >= 0], novel.size)
        d = squared_distances(feats[target], means)
        row = {"metric": metric, "labels per class": n}
        row["prototypes"] = f"{100 * np.mean(d.argmin(1) == truth[target]):.1f}"
        for m in t.methods:
            with unlogged():
                result = Pipeline(m, calibration="none").run(feats, y, novel.size, calibrate=False)
            row[m] = f"{100 * np.mean(result.labels[target] == truth[target]):.1f}"
        out.append(row)
    return out


def check_data(cfg: FewShotConfig, problem: Problem) -> None:
    """What only the data can judge (before the run folder is created): a fully labeled set,
    the class split, and every episode and transfer limit."""
    if problem.truth is None:
        raise InputError(f"{cfg.dataset} is not fully labeled; fewshot needs every image's class")
    split = split_of(cfg, problem.classes)
    labeled = labeled_part(problem.truth, cfg.classes.labeled_fraction, cfg.seed)
    novel = codes(problem.classes, split.novel)
    e = cfg.episodes
    for k in e.shots:
        spec = EpisodeSpec(e.n_way, k, e.n_query, e.pool_per_class, e.distractors)
        check_spec(spec, problem.truth, labeled, novel)
    fewest = min(int((labeled & (problem.truth == c)).sum()) for c in novel)
    if max(cfg.transfer.labels_per_class) > fewest:
        raise InputError(
            f"transfer.labels_per_class = {max(cfg.transfer.labels_per_class)} exceeds the "
            f"{fewest} labeled examples of a novel class; lower it or raise "
            "classes.labeled_fraction"
        )


def own_metric_features(run, cfg, problem, rows_, encoder, device, progress) -> np.ndarray:
    """Stages ``own_metric`` and ``own_features`` (S = U): instance discrimination on the novel
    images alone, no labels, and their features."""
    novel_problem = Problem(problem.train.subset(rows_), np.full(rows_.size, -1), None, None, None)
    own_encoder = metric_stage(
        run,
        replace(cfg.metric, source="instance"),
        cfg,
        novel_problem,
        device,
        name="own_metric",
        progress=progress,
    )
    own_feats = novel_features(
        run, novel_problem, np.arange(rows_.size), own_encoder, device, "own_features"
    )
    run.drop_output("features")
    run.output("own_encoder", str(own_encoder.relative_to(run.path)))
    run.output("encoder", str(encoder.relative_to(run.path)))
    return own_feats


def transfer_stage(run, cfg, feats, own_feats, novel) -> list:
    """Stage ``transfer`` (DMT Table 6): its rows, computed once and kept in the stage folder."""
    labels, part, classes = novel
    if not run.done("transfer"):
        with run.stage("transfer") as folder:
            args = (labels, part, classes, cfg.transfer, cfg.seed)
            table6 = transfer_rows(feats, *args, f"base classes, {cfg.metric.source}")
            if own_feats is not None:
                table6 += transfer_rows(own_feats, *args, "novel classes' own images (S = U)")
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(folder / "table.json") as tmp:
                tmp.write_text(json.dumps(table6, indent=1))
    return json.loads((run.path / "transfer" / "table.json").read_text())


@register_recipe("fewshot", FewShotConfig, check=check_fewshot)
def run_fewshot(
    cfg: FewShotConfig, out_dir: str | Path, *, progress: bool = False, fast_dev_run: bool = False
) -> dict:
    """Run (or resume) the stages into ``out_dir``; returns the tables. (``--fast-dev-run``
    shrinks the episodes in :func:`~deeplabelprop.recipes.fast_dev_run.fast_dev_run`.)"""
    stages = {
        "metric": cfg.stage_settings("classes", "metric"),
        "features": cfg.stage_settings("classes", "metric"),
        "episodes": cfg.stage_settings("classes", "metric", "episodes"),
        "transfer": cfg.stage_settings("classes", "metric", "transfer"),
    }
    if cfg.transfer.own_metric:
        stages["own_metric"] = cfg.stage_settings("classes", "metric")
        stages["own_features"] = stages["own_metric"]
    run = open_run(out_dir, "fewshot", cfg, stages, fast_dev_run=fast_dev_run)
    problem = open_problem(run, cfg, progress=progress, check=lambda p: check_data(cfg, p))
    truth, classes = problem.truth, problem.classes
    split = split_of(cfg, classes)
    labeled = labeled_part(truth, cfg.classes.labeled_fraction, cfg.seed)
    novel = codes(classes, split.novel)
    device = device_of(cfg)
    encoder = metric_stage(
        run,
        cfg.metric,
        cfg,
        base_problem(problem, truth, labeled, split),
        device,
        progress=progress,
    )
    run.drop_output("features")  # the base classes' only: not one per training image
    rows_ = np.flatnonzero(np.isin(truth, novel))
    feats = novel_features(run, problem, rows_, encoder, device, "features")
    labels, part = truth[rows_], labeled[rows_]
    table7 = episodes_stage(run, cfg, feats, labels, part, np.sort(novel))
    own_feats = None
    if cfg.transfer.own_metric:  # S = U: instance discrimination on the novel images, no labels
        own_feats = own_metric_features(run, cfg, problem, rows_, encoder, device, progress)
    tables = {
        "episodes (DMT Table 7)": table7,
        "transfer (DMT Table 6)": transfer_stage(
            run, cfg, feats, own_feats, (labels, part, np.sort(novel))
        ),
    }
    with atomic_path(run.path / "tables.json") as tmp:
        tmp.write_text(json.dumps(tables, indent=1))
    run.output("tables", "tables.json")
    return run.finish({"tables": tables, "seconds": stage_seconds(run)})
