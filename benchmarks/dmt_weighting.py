"""Does informative weighting lift DMT above its pseudo labels? (issue 18) The shipped
Fashion-MNIST ``dmt`` config from one saved metric, with three per-example weights in eq. (10):
DMT's margin at σ = 40 (today's default, saturated at our score scale), the margin at τ = 0.1,
and the calibrated confidence (P(label is right)); 40 / 100 / 1000 labels, three splits.

    .venv/bin/python benchmarks/dmt_weighting.py --encoder runs/pretrain/encoder.pt \
        --labels 40 100 1000 --seeds 0 1 2 --finetune-epochs 5 --out weighting.json
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
VARIANTS = {
    "margin σ = 40 (default)": [],
    "margin τ = 0.1": ["propagate.confidence_temperature=0.1"],
    "calibrated": ["propagate.weight=calibrated"],
}


def run(encoder: str, labels: int, seed: int, sets: list[str], epochs: int, out: Path) -> dict:
    args = [
        sys.executable,
        "-m",
        "deeplabelprop",
        "run",
        str(ROOT / "configs" / "fashion-mnist" / "dmt.toml"),
        "-o",
        str(out),
    ]
    common = [
        "metric.source=checkpoint",
        f"metric.checkpoint={encoder}",
        f"n_labeled={labels}",
        f"seed={seed}",
        f"finetune.epochs={epochs}",
    ]
    for s in common + sets:
        args += ["--set", s]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr[-2000:])
    return json.loads((out / "results.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--encoder", required=True)
    p.add_argument("--labels", type=int, nargs="+", default=[40, 100, 1000])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--finetune-epochs", type=int, default=5)
    p.add_argument("--out")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for labels in args.labels:
            for seed in args.seeds:
                for name, sets in VARIANTS.items():
                    out = Path(tmp) / f"{labels}-{seed}-{len(rows)}"
                    r = run(args.encoder, labels, seed, sets, args.finetune_epochs, out)
                    row = {
                        "labels": labels,
                        "seed": seed,
                        "weight": name,
                        "pseudo_label_accuracy": r["pseudo_label_accuracy"],
                        "test_accuracy": r["test_accuracy"],
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    for labels in args.labels:
        for name in VARIANTS:
            acc = [
                r["test_accuracy"] for r in rows if r["labels"] == labels and r["weight"] == name
            ]
            pl = [
                r["pseudo_label_accuracy"]
                for r in rows
                if r["labels"] == labels and r["weight"] == name
            ]
            print(
                f"{labels:5d} labels  {name:26s} test {100 * np.mean(acc):.2f} ± "
                f"{100 * np.std(acc):.2f} %   pseudo labels {100 * np.mean(pl):.2f} %"
            )
    print(machine())
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
