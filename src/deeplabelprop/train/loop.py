"""The one training loop every recipe uses: SGD (Nesterov), warm-up + cosine, optional EMA
teacher, an atomic checkpoint every epoch, exact resume, metrics.jsonl, stop on a non-finite loss.

A :class:`~deeplabelprop.train.task.Task` supplies the data and the loss; the loop owns
optimisation, the EMA teacher (``task.teacher``), checkpoints and logging.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..config import differences
from ..errors import InputError
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .ema import EMATeacher
from .precision import channels_last, use_autocast
from .schedule import cosine_lr
from .task import Task

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    """Optimisation settings (Iscen / DMT defaults: SGD, Nesterov momentum 0.9, cosine decay)."""

    epochs: int = 10
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    warmup_epochs: int = 0
    ema_decay: float | None = None  # an EMA teacher of the weights (Mean Teacher), task.teacher
    seed: int = 0
    deterministic: bool = True
    progress: bool = True
    mixed_precision: bool | None = None  # None: bfloat16 autocast where native (precision.py)


def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _tensorboard(run_dir: Path):
    """A SummaryWriter when the optional ``tensorboard`` package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))


def _truncate_metrics(path: Path, last_epoch: int) -> None:
    """Drop metric lines of epochs after the checkpoint (written before a kill)."""
    if not path.exists():
        return
    keep = [
        line
        for line in path.read_text().splitlines()
        if line and json.loads(line).get("epoch", -1) <= last_epoch
    ]
    path.write_text("".join(line + "\n" for line in keep))


def train(
    model: nn.Module,
    task: Task,
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = True,
    extra_config: dict | None = None,
) -> dict:
    """Train ``model`` on ``task`` for ``config.epochs`` epochs, checkpointing into ``run_dir``.

    With ``resume`` and a checkpoint present the run continues after its last finished epoch,
    with model, optimiser, task state (memory bank ...), EMA teacher and RNG states restored, so
    it ends with the same weights as an uninterrupted run. Returns the last epoch's metrics.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    if config.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    device = next(model.parameters()).device
    channels_last(model)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov and config.momentum > 0,
        weight_decay=config.weight_decay,
    )
    teacher = EMATeacher(model, config.ema_decay) if config.ema_decay else None
    task.teacher = teacher
    steps = task.steps_per_epoch
    total = config.epochs * steps
    lrs = [cosine_lr(s, total, config.lr, config.warmup_epochs * steps) for s in range(total)]
    settings = {"train": dataclasses.asdict(config), **(extra_config or {})}
    start_epoch, metrics = 0, {}
    ckpt_path = run_dir / CHECKPOINT
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)  # on the CPU; load_state_dict copies to the device
        changed = differences(state["settings"], settings)
        if changed:
            raise InputError(
                f"{ckpt_path} was written with other settings; use a new run directory or the same "
                f"config (differs in: {', '.join(changed)})"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        task.load_state_dict(state["task"])
        if teacher is not None:
            teacher.model.load_state_dict(state["teacher"])
        set_rng_state(state["rng"])
        start_epoch, metrics = state["epoch"] + 1, state["metrics"]
        _truncate_metrics(run_dir / "metrics.jsonl", state["epoch"])
        logger.info("resuming %s after epoch %d", run_dir, state["epoch"])
    else:
        (run_dir / "config.json").write_text(
            json.dumps({**settings, "git_sha": git_sha()}, indent=1, default=str)
        )
        (run_dir / "metrics.jsonl").write_text("")
    amp = use_autocast(config.mixed_precision, device)
    writer = _tensorboard(run_dir)
    for epoch in range(start_epoch, config.epochs):
        task.begin_epoch(model, epoch)  # from the model and state of a checkpoint: exact on resume
        model.train()
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        batches = task.batches(epoch)
        if config.progress:
            from tqdm import tqdm

            batches = tqdm(
                batches, total=steps, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False
            )
        for i, batch in enumerate(batches):
            step = epoch * steps + i
            for group in optimizer.param_groups:
                group["lr"] = lrs[step]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss, logs = task.loss(model, batch, step)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"loss is {value} at epoch {epoch + 1}, step {i + 1}; the last good checkpoint "
                    f"{ckpt_path if ckpt_path.exists() else '(none yet)'} is kept. Lower the learning rate "
                    "or check the inputs"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            task.after_step(model, batch)
            if teacher is not None:
                teacher.update(model, step)
            for k, v in {"loss": value, **logs}.items():
                sums[k] = sums.get(k, 0.0) + v
        model.eval()
        metrics = {
            "epoch": epoch,
            **{k: v / steps for k, v in sums.items()},
            "lr": lrs[epoch * steps + steps - 1],
            "train_seconds": time.perf_counter() - t0,
        }
        metrics.update(task.evaluate(model, epoch))
        with open(run_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(metrics) + "\n")
        if writer is not None:
            for k, v in metrics.items():
                if isinstance(v, float):
                    writer.add_scalar(k, v, epoch)
            writer.flush()
        save_checkpoint(
            ckpt_path,
            {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "task": task.state_dict(),
                "teacher": teacher.model.state_dict() if teacher is not None else None,
                "rng": rng_state(),
                "metrics": metrics,
                "settings": json.loads(json.dumps(settings)),
            },
        )
        logger.info(
            "epoch %d/%d: %s",
            epoch + 1,
            config.epochs,
            ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float)),
        )
    return metrics
