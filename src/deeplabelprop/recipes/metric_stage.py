"""The metric stage every recipe that starts from a metric shares: train one (instance
discrimination, NCA, bootstrap), take one from elsewhere (S ≠ U, an ``encoder.pt``), or none
(raw pixels). Writes ``encoder.pt`` and ``features.npy`` into the stage folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, save_npy
from ..data import Problem, ShiftFlip
from ..data.stream import ImageStream
from ..errors import InputError
from ..models.saved import load_model
from ..pretrain import MetricSettings, train_metric
from .run_dir import Run


def check_metric(m: MetricSettings, section: str, *, allowed: tuple[str, ...]) -> None:
    """Recipe-specific choices, and an encoder that exists, before anything is written."""
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
        load_model(Path(m.checkpoint).expanduser(), what="encoder")  # loads safely, or says why


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
    with atomic_path(out / "encoder.pt") as tmp:
        shutil.copyfile(Path(encoder).expanduser(), tmp)
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
        with run.stage(name):
            if m.source == "checkpoint":
                embed_with_encoder(
                    m.checkpoint, problem, device, folder, num_workers=config.num_workers
                )
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
