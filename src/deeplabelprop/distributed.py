"""Several processes, one per device, launched by ``torchrun`` (``torch.distributed``): the
process group, and the few collectives the training tasks need.

Every global batch is the single-process one; each rank takes a contiguous slice of it
(:func:`shard`), DistributedDataParallel averages the gradients, memory banks are updated with
the embeddings and indices of all ranks, objectives with in-batch negatives see every rank's
embeddings, and whatever is computed once per epoch (propagation) is computed on rank 0 and
shared. With one process every function here is the identity, so single-process code is the
same code. NCCL on GPUs, gloo on CPUs.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

from .errors import InputError

logger = logging.getLogger(__name__)


def active() -> bool:
    """A process group with more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Rank 0: the process that writes files and shows progress."""
    return rank() == 0


def device_for_rank(device: str | None) -> str:
    """This process's device: ``cuda:LOCAL_RANK`` on a GPU machine under torchrun (processes
    share the GPUs in turn when there are fewer GPUs than processes), else ``device`` (default:
    cuda when available, else cpu)."""
    wanted = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if wanted == "cuda" and active():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count()}"
    return wanted


def choose_backend() -> str:
    """NCCL when every local process has a GPU of its own, else gloo (CPUs, or several
    processes sharing a GPU: NCCL refuses two ranks on one device)."""
    local = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    if torch.cuda.is_available() and torch.cuda.device_count() >= local:
        return "nccl"
    return "gloo"


def init_from_env(timeout_minutes: float = 30.0) -> bool:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1), with
    :func:`choose_backend`. Returns whether a group was started."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (
        dist.is_available() and dist.is_initialized()
    ):
        return False
    backend = choose_backend()
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes))
    logger.info("process %d of %d (%s)", dist.get_rank(), dist.get_world_size(), backend)
    return True


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if active():
        dist.barrier()


def shard(n: int, batch: int | None = None) -> slice:
    """This rank's contiguous part of ``n`` rows; ``batch`` (a global batch size) must divide
    evenly, so that every rank's mean is over the same number of examples."""
    w, r = world_size(), rank()
    if batch is not None and batch % w:
        raise InputError(
            f"a batch of {batch} does not split evenly over {w} processes; use a batch size that "
            f"is a multiple of {w}"
        )
    base, extra = divmod(n, w)
    start = r * base + min(r, extra)
    return slice(start, start + base + (r < extra))


def shard_starts(n: int) -> np.ndarray:
    """The first row of every rank's :func:`shard` of ``n`` rows, and ``n`` last (W + 1,)."""
    base, extra = divmod(n, world_size())
    sizes = [base + (r < extra) for r in range(world_size())]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


SENT = {"bytes": 0}  # bytes this process has sent to others (all_to_all, sum_of, gathers)


def _sendable(t: torch.Tensor) -> torch.Tensor:
    """``t`` where the backend sends from: the GPU for NCCL, the CPU for gloo."""
    if dist.get_backend() == "nccl":
        return t if t.is_cuda else t.cuda()
    return t.cpu() if t.is_cuda else t


def all_to_all(send: torch.Tensor, send_counts: list[int], recv_counts: list[int]) -> torch.Tensor:
    """Rows ``send`` split by ``send_counts`` go to ranks 0..W-1 in order; returns the rows every
    rank sent here (``recv_counts`` of them from each, in rank order). The rows kept for this rank
    do not travel. Counted in ``SENT``."""
    if not active():
        return send
    moved = _sendable(send).contiguous()
    out = torch.empty((sum(recv_counts), *send.shape[1:]), dtype=send.dtype, device=moved.device)
    dist.all_to_all_single(out, moved, list(recv_counts), list(send_counts))
    row_bytes = send.element_size() * (int(np.prod(send.shape[1:])) if send.ndim > 1 else 1)
    SENT["bytes"] += row_bytes * (sum(send_counts) - send_counts[rank()])
    return out.to(send.device)


def exchange_counts(send_counts: list[int]) -> list[int]:
    """How many rows each rank will send here, given how many this rank sends to each."""
    if not active():
        return list(send_counts)
    sent = _sendable(torch.tensor(send_counts, dtype=torch.int64))
    out = torch.empty_like(sent)
    dist.all_to_all_single(out, sent)
    return out.tolist()


def sum_of(local: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``local`` over the ranks (every rank gets the same values)."""
    if not active():
        return local
    total = _sendable(local).clone()
    dist.all_reduce(total)
    SENT["bytes"] += total.element_size() * total.numel()
    return total.to(local.device)


def _all_gather(local: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's ``local`` (same shape), on ``local``'s device (sent from where the backend
    sends: gloo gathers CPU tensors, NCCL GPU tensors)."""
    sent = _sendable(local).contiguous()
    parts = [torch.empty_like(sent) for _ in range(world_size())]
    dist.all_gather(parts, sent)
    SENT["bytes"] += sent.element_size() * sent.numel() * (world_size() - 1)
    return [p.to(local.device) for p in parts]


def gather_rows(local: torch.Tensor, n: int) -> torch.Tensor:
    """Every rank's :func:`shard` of ``n`` rows, concatenated in rank order (the full array)."""
    if not active():
        return local
    w = world_size()
    size = -(-n // w)
    padded = torch.zeros((size, *local.shape[1:]), dtype=local.dtype, device=local.device)
    padded[: local.shape[0]] = local
    parts = _all_gather(padded)
    base, extra = divmod(n, w)
    return torch.cat([p[: base + (r < extra)] for r, p in enumerate(parts)])


def gather_batch(local: torch.Tensor) -> torch.Tensor:
    """The equal slices of a global batch from every rank, in rank order (no gradient)."""
    if not active():
        return local
    return torch.cat(_all_gather(local))


def gather_batch_with_grad(local: torch.Tensor) -> torch.Tensor:
    """:func:`gather_batch` whose own slice keeps its gradient (in-batch negatives across ranks).

    Each rank then holds the global objective, differentiable in its own embeddings; scale the
    loss by :func:`world_size` before the backward pass, since DistributedDataParallel averages
    the ranks' gradients."""
    if not active():
        return local
    parts = list(gather_batch(local.detach()).chunk(world_size()))
    parts[rank()] = local
    return torch.cat(parts)


def mean_of(value: float) -> float:
    """The mean of a float over the ranks (every rank gets it)."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return float(t.item()) / world_size()


class RelayedError(InputError):
    """Rank 0's :class:`~deeplabelprop.errors.InputError`, raised on the other ranks too (rank 0
    reports it; the others stop with it instead of waiting for rank 0)."""


def from_main(compute):
    """``compute()`` run on rank 0 only, its result given to every rank (pickled). An
    :class:`~deeplabelprop.errors.InputError` it raises is raised on rank 0 and, as a
    :class:`RelayedError`, on every other rank."""
    if not active():
        return compute()
    box: list = [None]
    if is_main():
        try:
            box[0] = (True, compute())
        except InputError as exc:
            box[0] = (False, str(exc))
    dist.broadcast_object_list(box, src=0)
    ok, value = box[0]
    if not ok:
        raise InputError(value) if is_main() else RelayedError(value)
    return value


def everywhere(compute):
    """``compute()`` on every process, for work each does on its own part (checking its rows):
    an :class:`~deeplabelprop.errors.InputError` on any process stops every process, raised
    where it happened and as a :class:`RelayedError` elsewhere, instead of leaving the others
    waiting in the next collective."""
    if not active():
        return compute()
    try:
        value, error = compute(), None
    except InputError as exc:
        value, error = None, str(exc)
    errors: list = [None] * world_size()
    dist.all_gather_object(errors, error)
    failed = [(r, e) for r, e in enumerate(errors) if e is not None]
    if failed:
        where, message = failed[0]
        raise InputError(message) if where == rank() else RelayedError(message)
    return value
