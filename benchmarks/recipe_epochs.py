"""One timed epoch of each training stage of each recipe, on CIFAR-10-shaped generated images,
in one process and under torchrun with several (issue 19).

    .venv/bin/python benchmarks/recipe_epochs.py --device cpu --n 2000 --procs 1 2
    python benchmarks/recipe_epochs.py --device cuda --n 20000 --procs 1 2   # gpu_check.sh

Each recipe runs from its shipped CIFAR-10 config (``wrn-28-2`` for dmt, ``conv13`` for lpdssl,
``resnet18`` for llp) with one epoch per training stage on ``--n`` generated 32 × 32 RGB images
(10 classes: a coloured square at a class's place, on noise). Reported per stage: the epoch's
training seconds (``train_seconds`` in metrics.jsonl: the optimisation steps, not the
propagation) and images per second, an epoch being one pass over the training images. The
processes share the machine's cores (or GPUs): on a CPU, 2 processes measure the overhead of
distribution, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import machine

ROOT = Path(__file__).resolve().parents[1]
STAGES = {
    "dmt": ("metric", "finetune"),
    "lpdssl": ("supervised", "iterative"),
    "llp": ("metric", "llp"),
}


def cifar_shaped(path: Path, n: int, n_test: int = 1000, seed: int = 0) -> Path:
    """n + n_test 32 × 32 × 3 uint8 images, 10 classes, as an npz data set."""
    rng = np.random.default_rng(seed)

    def images(m):
        labels = np.arange(m) % 10
        x = rng.integers(0, 90, (m, 32, 32, 3), dtype=np.uint8)
        colour = rng.integers(120, 255, (10, 3))
        for i, c in enumerate(labels):
            r, col = divmod(int(c), 5)
            x[i, 4 + 12 * r : 16 + 12 * r, 1 + 6 * col : 7 + 6 * col] = colour[c]
        return x, labels

    x, y = images(n)
    xt, yt = images(n_test)
    np.savez(path, images=x, labels=y, images_test=xt, labels_test=yt)
    return path


def command(recipe: str, data: Path, out: Path, device: str, procs: int) -> list[str]:
    sets = [f"dataset=npz:{data}", f"device={device}", "n_labeled=250"]
    sets += [f"{stage}.epochs=1" for stage in STAGES[recipe]]
    if recipe == "lpdssl":
        sets += ["metric.source=none"]
    args = ["run", str(ROOT / "configs" / "cifar10" / f"{recipe}.toml"), "-o", str(out)]
    for s in sets:
        args += ["--set", s]
    if procs == 1:
        return [sys.executable, "-m", "deeplabelprop", *args]
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    return [torchrun, "--standalone", f"--nproc_per_node={procs}", "-m", "deeplabelprop", *args]


def epoch_seconds(run: Path, stage: str) -> float:
    lines = (run / stage / "metrics.jsonl").read_text().splitlines()
    return float(json.loads(lines[-1])["train_seconds"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--recipes", nargs="+", default=list(STAGES))
    p.add_argument("--out", default=None)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = cifar_shaped(Path(tmp) / "cifar_shaped.npz", args.n)
        for recipe in args.recipes:
            for procs in args.procs:
                run = Path(tmp) / f"{recipe}-{procs}"
                proc = subprocess.run(
                    command(recipe, data, run, args.device, procs), capture_output=True, text=True
                )
                if proc.returncode:
                    sys.exit(f"{recipe} with {procs} process(es) failed:\n{proc.stderr[-3000:]}")
                for stage in STAGES[recipe]:
                    s = epoch_seconds(run, stage)
                    rows.append(
                        {
                            "recipe": recipe,
                            "stage": stage,
                            "processes": procs,
                            "seconds": s,
                            "images_per_second": args.n / s,
                        }
                    )
                    print(
                        f"{recipe:7s} {stage:11s} {procs} process(es): {s:7.2f} s per epoch, "
                        f"{args.n / s:8.1f} images/s",
                        flush=True,
                    )
    print(f"{args.n} images, device {args.device}; {machine()}")
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {"machine": machine(), "device": args.device, "n": args.n, "rows": rows}, indent=1
            )
        )


if __name__ == "__main__":
    main()
