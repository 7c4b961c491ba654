"""What every recipe does the same way: the train/test images, the split, an initialised model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..atomic import save_npy
from ..data import ImageStream, ShiftFlip, load_dataset, make_split
from ..data.splits import load_split, save_split
from ..errors import InputError
from ..models import build_model
from ..train import save_checkpoint

FAST_DEV_IMAGES = 512


@dataclass
class RecipeConfig:
    """The settings every recipe has; each recipe adds its stages' sections."""

    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    model: str = "small-cnn"
    width: int | None = None
    n_labeled: int = 100
    seed: int = 0
    device: str | None = None
    fast_dev_run: bool = False


@dataclass
class MetricSettings:
    """A metric stage: pretraining (instance | nca | bootstrap) or an encoder from elsewhere."""

    source: str = "instance"  # instance | nca | bootstrap | checkpoint (dmt also: none)
    objective: str = "two-view"
    epochs: int = 25
    lr: float = 0.06
    tau: float = 0.2
    batch_size: int = 256
    crop_scale: float = 0.2
    jitter: float = 0.4
    erase: float = 0.0
    checkpoint: str | None = None  # encoder.pt of another run (source = "checkpoint")


HOLDOUT_SEED = 12345


def subset(n: int, seed: int, size: int) -> np.ndarray:
    """Sorted indices of a seeded random subset of ``size`` of ``n`` rows."""
    return np.sort(np.random.default_rng(seed).permutation(n)[: min(n, size)])


def _take(images, rows: np.ndarray):
    return type(images)(images.images[rows], images.labels[rows], images.classes, images.name)


def train_and_test(dataset: str, data_dir: str | None, *, fast_dev_run: bool, seed: int):
    """(train, test) images. A data set without a test split (digits) holds out a fixed fifth;
    ``fast_dev_run`` keeps a seeded 512-image subset of each."""
    train_set = load_dataset(dataset, "train", data_dir)
    try:
        test_set = load_dataset(dataset, "test", data_dir)
    except InputError:
        held = subset(len(train_set), HOLDOUT_SEED, len(train_set) // 5)
        keep = np.setdiff1d(np.arange(len(train_set)), held)
        train_set, test_set = _take(train_set, keep), _take(train_set, held)
    if fast_dev_run:
        train_set = _take(train_set, subset(len(train_set), seed, FAST_DEV_IMAGES))
        test_set = _take(test_set, subset(len(test_set), seed, FAST_DEV_IMAGES))
    return train_set, test_set


def run_split(out: Path, train_set, n_labeled: int, seed: int):
    """The run's split, written once to ``out/split.json`` and read back by every rerun.

    Returns (split, y) with y the training labels masked to -1 outside the labeled set."""
    path = out / "split.json"
    if path.exists():
        split = load_split(path, train_set.labels, train_set.name)
    else:
        split = make_split(train_set.labels, n_labeled, seed=seed, dataset=train_set.name)
        save_split(path, split, train_set.labels)
    return split, split.masked_labels(train_set.labels)


def load_encoder(path: str | Path, device: str) -> dict:
    """An encoder checkpoint (``encoder.pt`` of ``pretrain`` or a recipe's metric stage)."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"encoder checkpoint {path} does not exist; run `deeplabelprop pretrain` first"
        )
    state = torch.load(path, map_location=device, weights_only=False)
    if not isinstance(state, dict) or "model" not in state:
        raise InputError(f"{path} is not an encoder checkpoint (no 'model' entry)")
    return state


def classifier_model(
    cfg: RecipeConfig, train_set, device: str, *, encoder: str | Path | None = None
):
    """The recipe's classifier for ``train_set`` (seeded by ``cfg.seed``); its backbone and
    embedding head taken from ``encoder`` when given (the classifier itself starts fresh)."""
    name, width = cfg.model, cfg.width
    in_channels, n_classes = train_set.shape[2], len(train_set.classes)
    torch.manual_seed(cfg.seed)
    model = build_model(name, in_channels, n_classes=n_classes, width=width).to(device)
    if encoder is not None:
        state = load_encoder(encoder, device)["model"]
        try:
            missing = model.load_state_dict(
                {k: v for k, v in state.items() if not k.startswith("classifier")}, strict=False
            )
        except RuntimeError as err:  # shape mismatch
            raise InputError(
                f"{encoder} does not fit model {name!r} (width {width}); set model/width to the "
                f"encoder's ({str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else err})"
            ) from None
        if [k for k in missing.missing_keys if not k.startswith("classifier")]:
            raise InputError(
                f"{encoder} does not fit model {name!r} (width {width}): missing "
                f"{', '.join(missing.missing_keys[:3])}; set model/width to the encoder's"
            )
    return model


def encoder_model(state: dict, device: str):
    """The network an encoder checkpoint (from :func:`load_encoder`) describes, with its weights."""
    b = state["build"]
    model = build_model(
        b["name"],
        b["in_channels"],
        n_classes=b["n_classes"],
        embedding_dim=b["embedding_dim"],
        width=b["width"],
    ).to(device)
    model.load_state_dict(state["model"])
    return model


def embed_with_encoder(
    encoder: str | Path, train_set, dataset: str, device: str, out: Path
) -> None:
    """S ≠ U: embed ``train_set`` with an encoder trained elsewhere; writes ``out/encoder.pt``
    (a copy) and ``out/features.npy`` (N × D unit rows), atomically."""
    state = load_encoder(encoder, device)
    channels = state["build"]["in_channels"]
    if channels != train_set.shape[2]:
        raise InputError(
            f"{encoder} takes {channels}-channel images, {dataset} has {train_set.shape[2]}"
        )
    model = encoder_model(state, device)
    stream = ImageStream(train_set.images, ShiftFlip(), device=device, dataset=dataset)
    feats = stream.embed(model).cpu().numpy().astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / "encoder.pt", state)
    save_npy(out / "features.npy", feats)


def save_test_predictions(model, monitor, stream: ImageStream, out: Path) -> None:
    """``out/test_predictions.npy``: the final model's class for every test image (the report's
    per-class test accuracy is computed from it)."""
    save_npy(out / "test_predictions.npy", monitor.predict(model, stream).astype(np.int64))


def metric_stage(
    m: MetricSettings,
    cfg: RecipeConfig,
    out: Path,
    device: str,
    *,
    section: str,
    images,
    split,
    progress: bool = False,
) -> None:
    """Write ``out/encoder.pt`` and ``out/features.npy``: pretrain on the training images
    (``m.source`` the method), or embed them with ``m.checkpoint`` (S ≠ U). ``section`` names
    the config table in error messages."""
    from ..pretrain.run import PretrainConfig, run_pretraining

    if m.source == "checkpoint":
        if not m.checkpoint:
            raise InputError(
                f"{section}.source = 'checkpoint' needs {section}.checkpoint = path to an encoder.pt"
            )
        embed_with_encoder(m.checkpoint, images[0], cfg.dataset, device, out)
        return
    pcfg = PretrainConfig(
        dataset=cfg.dataset,
        model=cfg.model,
        method=m.source,
        objective=m.objective,
        epochs=1 if cfg.fast_dev_run else m.epochs,
        lr=m.lr,
        tau=m.tau,
        batch_size=m.batch_size,
        crop_scale=m.crop_scale,
        jitter=m.jitter,
        erase=m.erase,
        width=cfg.width,
        n_labeled=cfg.n_labeled,
        seed=cfg.seed,
        data_dir=cfg.data_dir,
        device=device,
    )
    run_pretraining(pcfg, out, progress=progress, images=images, split=split)


def check_metric_settings(m: MetricSettings, section: str) -> None:
    """A metric stage's augmentation, checked before the run directory is created."""
    from ..pretrain.run import check_augmentation

    check_augmentation(m.crop_scale, m.jitter, m.erase, prefix=f"{section}.")


def check_labeled_per_batch(value: int, batch_size: int, section: str) -> None:
    """``section.labeled_per_batch`` must leave room for other rows in each batch."""
    if not 0 <= value < batch_size:
        raise InputError(
            f"{section}.labeled_per_batch must be in [0, batch_size={batch_size}), got {value}; "
            f"lower it or raise {section}.batch_size"
        )
