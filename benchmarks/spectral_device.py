"""Spectral propagation (DMT's η = 200 eigenvectors) on 50,000 points, on the CPU and on the GPU
when there is one (issue 19; DMT reports about 10 s for propagation to 50k images on a GPU).

    python benchmarks/spectral_device.py [--n 50000] [--eta 200] [--devices cpu cuda]

Synthetic clustered 128-D features (benchmarks/scale.py's), 0.1 % labeled; the time of the
graph, the eigenvectors and the propagation on each device, and how often the two devices give
the same pseudo label.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from common import machine
from scale import make_data

from deeplabelprop import propagate


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--eta", type=int, default=200)
    p.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    p.add_argument("--out", default=None)
    args = p.parse_args()
    x, truth, y = make_data(args.n)
    results, labels = {}, {}
    for device in args.devices:
        start = time.perf_counter()
        r = propagate(x, y, "spectral", calibration="none", n_components=args.eta, device=device)
        seconds = time.perf_counter() - start
        labels[device] = r.labels
        unl = y < 0
        results[device] = {
            "seconds": seconds,
            "timings": {k: round(v, 3) for k, v in r.timings.items()},
            "accuracy": float(np.mean(r.labels[unl] == truth[unl])),
        }
        print(
            f"{device}: {seconds:.2f} s {results[device]['timings']}, "
            f"accuracy {100 * results[device]['accuracy']:.2f} %",
            flush=True,
        )
    if len(labels) == 2:
        a, b = labels.values()
        print(f"same pseudo label on both devices: {100 * np.mean(a == b):.2f} %")
    print(f"{args.n} points, η = {args.eta}; {machine()}")
    if args.out:
        Path(args.out).write_text(json.dumps({"n": args.n, "eta": args.eta, **results}, indent=1))


if __name__ == "__main__":
    main()
