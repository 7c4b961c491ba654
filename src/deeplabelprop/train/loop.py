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
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .. import distributed
from ..config import differences
from ..errors import InputError
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .ema import EMATeacher
from .precision import channels_last, use_autocast
from .schedule import cosine_lr
from .task import Task

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


CHECK_EVERY = 50  # steps between reads of the summed loss (each read waits for the GPU)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def check_finite(loss_sum: float, epoch: int, step: int, ckpt_path: Path) -> None:
    """Stop (every process together) when the epoch's summed loss is NaN or infinite."""
    value = distributed.mean_of(loss_sum)
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"loss is {value} at epoch {epoch + 1}, by step {step + 1}; the last good checkpoint "
            f"{ckpt_path if ckpt_path.exists() else '(none yet)'} is kept. Lower the learning "
            "rate or check the inputs"
        )


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


def deterministic(device: torch.device) -> None:
    """Deterministic kernels where torch has them (a warning names any that do not), and the
    cuBLAS workspace setting CUDA needs for deterministic matrix products (it only takes effect
    when set before the first cuBLAS call: the command line sets it at start-up)."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)


def wrap_distributed(model: nn.Module, device: torch.device, every_head: bool) -> nn.Module:
    """``model`` in DistributedDataParallel when several processes run (else ``model``); with
    one GPU per process its batch norms become SyncBatchNorm first (torch has no CPU kernels for
    it, nor a gloo path: on CPUs, or processes sharing a GPU, each process normalises over its
    own slice of the batch; the ``-gn`` backbones avoid the
    difference). When the task leaves a head unused (``every_head`` False: a classification
    loss does not touch the embedding head) DDP looks for unused parameters, whose gradients then
    stay None on every rank as in one process (no weight decay or momentum step for them)."""
    if not distributed.active():
        return model
    ids = None
    if device.type == "cuda":
        if distributed.choose_backend() == "nccl":  # SyncBatchNorm gathers with NCCL only
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        ids = [device.index]
    return nn.parallel.DistributedDataParallel(
        model, device_ids=ids, find_unused_parameters=not every_head
    )


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
    main = distributed.is_main()  # rank 0 alone writes files and shows progress
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    device = next(model.parameters()).device
    if config.deterministic:
        deterministic(device)
    channels_last(model)
    net = wrap_distributed(
        model, device, task.trains_every_head
    )  # the loss goes through it: gradients are averaged
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
        if main:
            _truncate_metrics(run_dir / "metrics.jsonl", state["epoch"])
        if start_epoch < config.epochs:
            logger.info("resuming %s after epoch %d", run_dir, start_epoch)
        else:
            logger.info("%s: all %d epochs were trained earlier", run_dir, config.epochs)
    elif main:
        (run_dir / "config.json").write_text(
            json.dumps({**settings, "git_sha": git_sha()}, indent=1, default=str)
        )
        (run_dir / "metrics.jsonl").write_text("")
    amp = use_autocast(config.mixed_precision, device)
    writer = _tensorboard(run_dir) if main else None
    for epoch in range(start_epoch, config.epochs):
        task.begin_epoch(model, epoch)  # from the model and state of a checkpoint: exact on resume
        model.train()
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        batches = task.batches(epoch)
        if config.progress and main:
            from tqdm import tqdm

            batches = tqdm(
                batches, total=steps, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False
            )
        for i, batch in enumerate(batches):
            step = epoch * steps + i
            for group in optimizer.param_groups:
                group["lr"] = lrs[step]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss, logs = task.loss(net, batch, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            task.after_step(model, batch)
            if teacher is not None:
                teacher.update(model, step)
            # summed where they are (no read from the GPU every step) ...
            for k, v in {"loss": loss.detach(), **logs}.items():
                sums[k] = sums.get(k, 0.0) + (v.detach().float() if torch.is_tensor(v) else v)
            # ... and read every CHECK_EVERY steps: a non-finite loss stops every process
            if (i + 1) % CHECK_EVERY == 0 or i + 1 == steps:
                check_finite(float(sums["loss"]), epoch, i, ckpt_path)
        model.eval()
        metrics = {
            "epoch": epoch,
            **{k: distributed.mean_of(float(v) / steps) for k, v in sums.items()},
            "lr": lrs[epoch * steps + steps - 1],
            "train_seconds": time.perf_counter() - t0,
        }
        metrics.update(task.evaluate(model, epoch))
        if main:
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
        distributed.barrier()  # every rank resumes from the same checkpoint
        logger.info(
            "epoch %d/%d: %s",
            epoch + 1,
            config.epochs,
            ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float)),
        )
    return metrics
