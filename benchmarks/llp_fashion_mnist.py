"""The llp recipe on Fashion-MNIST: test accuracy at 100 and 1000 labels, and LLP Table 6 in
miniature (nearest-neighbour accuracy of the ablations) at 1000 labels.

    .venv/bin/python benchmarks/llp_fashion_mnist.py --encoder runs/pretrain-fashion/encoder.pt \\
        --labels 100 1000 --ablations-at 1000 --out runs/llp-table

The warm start is the given instance-discrimination encoder (shared by every row); each row then
trains ``--epochs`` epochs of LLP. Every run directory resumes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import machine

from deeplabelprop.config import from_dict
from deeplabelprop.recipes import LLPConfig, run_llp

ABLATIONS = {
    "LLP (K=10, density, confidence, category)": {},
    "no density weighting": {"density_weighting": False},
    "no confidence weighting": {"confidence_weighting": False},
    "no category loss": {"category_loss": False},
    "K=50": {"n_voters": 50},
    # ours: 32 labeled rows in every batch of 128 (the paper samples all rows uniformly)
    "LLP, labels in every batch": {"labeled_per_batch": 32},
    # ours: diffusion (k = 10) on the whole bank instead of the local vote, its ω as c
    "LLP, diffusion pseudo labels": {"method": "diffusion", "n_neighbors": 10},
    "LLP, diffusion pseudo labels, no confidence weighting": {
        "method": "diffusion",
        "n_neighbors": 10,
        "confidence_weighting": False,
    },
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument(
        "--encoder", required=True, help="warm-start encoder.pt (instance discrimination)"
    )
    p.add_argument("--labels", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--ablations-at", type=int, default=1000)
    p.add_argument("--rows", nargs="+", default=list(ABLATIONS), choices=list(ABLATIONS))
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/llp-table")
    args = p.parse_args()
    out = Path(args.out)
    jobs = [(n, next(iter(ABLATIONS))) for n in args.labels]
    jobs += [(args.ablations_at, r) for r in args.rows if (args.ablations_at, r) not in jobs]
    results = {}
    for n, row in jobs:
        data = {
            "dataset": "fashion-mnist",
            "n_labeled": n,
            "seed": args.seed,
            "warm": {"source": "checkpoint", "checkpoint": args.encoder},
            "propagation": {"epochs": args.epochs, **ABLATIONS[row]},
        }
        run_dir = out / f"{n}" / row.split(" (")[0].replace(" ", "-").replace("=", "")
        t = time.perf_counter()
        res = run_llp(from_dict(LLPConfig, data), run_dir)
        res["wall_seconds"] = time.perf_counter() - t
        lines = [
            json.loads(x) for x in (run_dir / "llp" / "metrics.jsonl").read_text().splitlines()
        ]
        res["pseudo_by_epoch"] = [m["pseudo_label_accuracy"] for m in lines]
        res["nn_by_epoch"] = [m["nn_accuracy"] for m in lines]
        results[(n, row)] = res
        print(
            f"{n:5d} labels  {row:42s} test {100 * res['test_accuracy']:6.2f} %  NN {100 * res['nn_accuracy']:6.2f} %  "
            f"pseudo labels by epoch [{' '.join(f'{100 * a:.1f}' for a in res['pseudo_by_epoch'])}]  "
            f"epoch: propagate {res['propagate_seconds']:.1f} s + train {res['train_seconds']:.1f} s  "
            f"{res['wall_seconds']:.0f} s",
            flush=True,
        )
    print("\n| labels | row | test accuracy | NN accuracy | pseudo-label accuracy |")
    print("|---|---|---|---|---|")
    for (n, row), r in results.items():
        print(
            f"| {n} | {row} | {100 * r['test_accuracy']:.2f} % | {100 * r['nn_accuracy']:.2f} % | "
            f"{100 * r['pseudo_label_accuracy']:.2f} % |"
        )
    with open(out / "table.json", "w") as fh:
        json.dump({f"{n}/{row}": v for (n, row), v in results.items()}, fh, indent=1, default=str)
    print(f"\nmachine: {machine()}")


if __name__ == "__main__":
    main()
