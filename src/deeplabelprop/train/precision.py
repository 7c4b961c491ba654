"""Numeric precision and memory layout of training: bfloat16 autocast where the hardware has it,
full precision for the losses that compare embeddings, channels-last convolutions.

On a CPU with native bfloat16 (AVX512-BF16 or AMX) a two-view training step with bfloat16
autocast and channels-last tensors is 1.6x faster than in float32 and the default layout for
``small-cnn`` and 3.1x for ``conv4``, with the same instance-discrimination accuracy
(benchmarks/RESULTS.md). Without native support bfloat16 is emulated (not measured here; expected
to be slower), so ``mixed_precision=None`` enables it only where it is native.
"""

from __future__ import annotations

import functools

import torch


def native_bfloat16(device: torch.device) -> bool:
    """Whether bfloat16 matrix products run natively on ``device``: a CUDA device of compute
    capability 8.0 or later (Ampere on; the device in use, not the current one), a CPU with
    AVX512-BF16 or AMX tiles."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type != "cpu":
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def use_autocast(setting: bool | None, device: torch.device) -> bool:
    """``setting`` when given, else :func:`native_bfloat16`."""
    return native_bfloat16(device) if setting is None else bool(setting)


def full_precision(loss):
    """Run ``loss`` outside autocast with its half-precision tensor arguments in float32
    (float32 and float64 arguments are kept as they are).

    The losses over similarities s/τ with τ ≈ 0.1 lose a tenth of a logit to bfloat16's 8-bit
    mantissa; the networks' forward passes keep the speed of autocast, the losses do not pay it.
    """

    @functools.wraps(loss)
    def wrapper(*args, **kwargs):
        def up(v):
            low = isinstance(v, torch.Tensor) and v.dtype in (torch.bfloat16, torch.float16)
            return v.float() if low else v

        device = next((a.device.type for a in args if isinstance(a, torch.Tensor)), "cpu")
        with torch.autocast(device, enabled=False):
            return loss(*map(up, args), **{k: up(v) for k, v in kwargs.items()})

    return wrapper


def channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Convolution weights in channels-last layout (NHWC): faster on GPUs and on oneDNN CPUs
    (1.2x for ``small-cnn``, 1.4x for ``conv4`` on 2 cores); a no-op for linear layers."""
    return model.to(memory_format=torch.channels_last)
