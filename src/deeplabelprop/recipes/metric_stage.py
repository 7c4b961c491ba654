"""The metric stage every recipe that starts from a metric shares: train one (instance
discrimination, NCA, bootstrap), take one from elsewhere (S ≠ U: an ``encoder.pt``, or a
pretrained backbone), or none (raw pixels). Writes ``encoder.pt`` and ``features.npy`` into the
stage folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, save_npy
from ..data import Problem, ShiftFlip
from ..data.images.stream import ImageStream
from ..errors import InputError
from ..models.pretrained import load_pretrained, pretrained_build, pretrained_network
from ..models.saved import Preprocessing, load_model, save_model
from ..pretrain import MetricSettings, train_metric
from .common import from_encoder
from .run_dir import Run

LABELED_METRICS = ("nca", "bootstrap")  # metric sources that read the given labels


def label_free(m: MetricSettings, name: str = "metric") -> tuple[str, ...]:
    """(``name``,) when the metric does not read the given labels (instance discrimination,
    an encoder or a pretrained backbone): a new round of labels keeps it."""
    return () if m.source in LABELED_METRICS else (name,)


def check_metric(
    m: MetricSettings, section: str, *, allowed: tuple[str, ...], classifier=None
) -> None:
    """Recipe-specific choices, and an encoder that exists, before anything is written.
    ``classifier``: the recipe's config when it trains a classifier from the encoder (its
    ``model`` and ``width``), which an encoder from elsewhere must then fit."""
    if m.source not in allowed:
        raise InputError(f"{section}.source must be one of {', '.join(allowed)}, got {m.source!r}")
    if m.source == "checkpoint":
        if not m.checkpoint:
            raise InputError(
                f"{section}.source = 'checkpoint' needs {section}.checkpoint = path to an encoder.pt"
            )
        if not Path(m.checkpoint).expanduser().is_file():
            raise InputError(
                f"{section}.checkpoint {m.checkpoint} does not exist; run `deeplabelprop pretrain` "
                "first, or point it at the encoder.pt of a run"
            )
        saved = load_model(Path(m.checkpoint).expanduser(), what="encoder")  # or says why
        if classifier is not None and saved.build["name"] != "pretrained":
            # before the metric and propagate stages are written, not at the finetune
            from_encoder(saved, m.checkpoint, classifier, saved.preprocessing.channels, 2)
    if m.source == "pretrained":
        if not m.model:
            raise InputError(
                f"{section}.source = 'pretrained' needs {section}.model = a model spec, e.g. "
                "hf:facebook/dinov2-small, hf:/path/to/saved/model, resnet18:resnet18-f37072fd.pth"
            )
        load_pretrained(m.model, m.pooling)  # loads, or says why, before anything is written


def embed_with_encoder(
    encoder: str | Path, problem: Problem, device: str, out: Path, *, num_workers: int = 0
):
    """S ≠ U: embed the training images with an encoder trained elsewhere, normalised as that
    encoder was trained; writes ``out/encoder.pt`` (a copy) and ``out/features.npy``."""
    saved = load_model(Path(encoder).expanduser(), device, what="encoder")
    channels, have = saved.preprocessing.channels, problem.train.shape[2]
    if channels != have:
        raise InputError(
            f"{encoder} takes {channels}-channel images, {problem.train.name} has {have}"
        )
    stream = ImageStream(
        problem.train.images,
        ShiftFlip(),
        device=device,
        normalization=saved.preprocessing.normalization,
        num_workers=num_workers,
    )
    feats = stream.embed(saved.network).cpu().numpy().astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    if Path(encoder).expanduser().resolve() != (out / "encoder.pt").resolve():
        with atomic_path(out / "encoder.pt") as tmp:
            shutil.copyfile(Path(encoder).expanduser(), tmp)
    save_npy(out / "features.npy", feats)


def embed_with_pretrained(
    m: MetricSettings, problem: Problem, device: str, out: Path, *, num_workers: int = 0
) -> None:
    """S ≠ U with a pretrained backbone: the training images (at the data set's size, fitted to
    the model's input and normalised as it was trained) through it; writes ``out/encoder.pt``
    (the backbone with an identity embedding head) and ``out/features.npy``."""
    network = pretrained_network(m.model, m.pooling).to(device)
    pre = network.backbone.preprocessing
    train_set = problem.train
    if train_set.shape[2] not in (1, pre.channels):
        raise InputError(
            f"{m.model} takes {pre.channels}-channel images, {train_set.name} has "
            f"{train_set.shape[2]}"
        )
    stream = ImageStream(
        train_set.images,
        ShiftFlip(),
        device=device,
        normalization=(pre.mean, pre.std),
        num_workers=num_workers,
    )
    feats = stream.embed(network).cpu().numpy().astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    save_model(
        out / "encoder.pt",
        network,
        pretrained_build(network.backbone, train_set.shape[2], None),
        Preprocessing(train_set.shape[:2], train_set.shape[2], pre.mean, pre.std),
        dataset=train_set.name,
    )
    save_npy(out / "features.npy", feats)


def metric_stage(
    run: Run,
    m: MetricSettings,
    config,
    problem: Problem,
    device: str,
    *,
    name: str = "metric",
    folder: Path | None = None,
    labels: np.ndarray | None = None,
    progress: bool = False,
) -> Path | None:
    """Stage ``name`` (skipped when done): the encoder's path, or None for ``source = "none"``."""
    if m.source == "none":
        return None
    folder = folder or run.path / name
    if not run.done(name):
        again = run.embeds_again(name)
        with run.stage(name):
            if again:  # images added or removed: the kept encoder embeds the new list
                embed_with_encoder(
                    folder / "encoder.pt", problem, device, folder, num_workers=config.num_workers
                )
            elif m.source == "checkpoint":
                embed_with_encoder(
                    m.checkpoint, problem, device, folder, num_workers=config.num_workers
                )
            elif m.source == "pretrained":
                embed_with_pretrained(m, problem, device, folder, num_workers=config.num_workers)
            else:
                train_metric(
                    m,
                    problem,
                    folder,
                    model=config.model,
                    width=config.width,
                    seed=config.seed,
                    device=device,
                    labels=labels,
                    num_workers=config.num_workers,
                    progress=progress,
                    resize=config.resize,
                    mixed_precision=config.mixed_precision(),
                )
    relative = folder.relative_to(run.path)
    run.output("features", str(relative / "features.npy"))
    run.output("encoder", str(relative / "encoder.pt"))
    return folder / "encoder.pt"
