"""Seconds per training step of each backbone in float32 vs bfloat16 autocast, default vs
channels-last layout, on this machine (CPU unless --device cuda).

    .venv/bin/python benchmarks/precision_speed.py
    .venv/bin/python benchmarks/precision_speed.py --models small-cnn conv13 --batch 256

One step: the forward pass of a batch of Fashion-MNIST-sized images through ``embed``, the
two-view loss (in float32, as in training) and the backward pass and SGD update. Reported as
the median of --steps steps after two warm-up steps, with the ratio to float32 + default layout.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import machine

from deeplabelprop.models import build_model
from deeplabelprop.pretrain.losses import two_view_loss
from deeplabelprop.train.precision import channels_last, native_bfloat16


def seconds_per_step(model, x, *, bf16: bool, layout: bool, steps: int) -> float:
    if layout:
        channels_last(model)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times = []
    for i in range(steps + 2):
        t = time.perf_counter()
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            z = model.embed(x)
            half = z.shape[0] // 2
            loss = two_view_loss(z[:half], z[half:], 0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if x.is_cuda:
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="+", default=["small-cnn"])
    p.add_argument("--width", type=int, help="default: each model's own")
    p.add_argument("--batch", type=int, default=512, help="images per step (both views)")
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    device = torch.device(args.device)
    print(f"native bfloat16 on {device}: {native_bfloat16(device)}; {machine()}")
    print("| model | float32 | float32, channels-last | bfloat16 | bfloat16, channels-last |")
    print("|---|---|---|---|---|")
    for name in args.models:
        x = torch.randn(args.batch, 1, args.size, args.size, device=device)
        cells, base = [], None
        for bf16, layout in ((False, False), (False, True), (True, False), (True, True)):
            torch.manual_seed(0)
            model = build_model(name, 1, embedding_dim=128, width=args.width).to(device)
            s = seconds_per_step(model, x, bf16=bf16, layout=layout, steps=args.steps)
            base = base or s
            cells.append(f"{s:.3f} s ({base / s:.2f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
