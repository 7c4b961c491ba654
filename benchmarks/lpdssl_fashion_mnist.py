"""Iscen et al. Table 1 in miniature on Fashion-MNIST: test accuracy of the lpdssl recipe's rows.

    .venv/bin/python benchmarks/lpdssl_fashion_mnist.py --labels 100 1000 --out runs/lpdssl-table \\
        --encoder runs/pretrain-fashion/encoder.pt

Rows (all from the same stage 1, run once per label count and copied into each row's directory):
supervised (labels only, same batches and epochs), ours (diffusion pseudo labels, ω, ζ), ours
without ω, without ζ, network-prediction pseudo labels, Mean Teacher, MT + ours. Every run
directory resumes. Prints the pseudo-label accuracy of every epoch (the paper's Figure 4) and the
split of each epoch's time between propagation and training.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from common import machine

from deeplabelprop.config import from_dict
from deeplabelprop.recipes import LPDSSLConfig, run_lpdssl

ROWS = {
    "supervised": {"pseudo_labels": "none"},
    "ours": {},
    "ours, no omega": {"entropy_weights": False},
    "ours, no zeta": {"class_balance": False},
    "network pseudo labels": {"pseudo_labels": "network"},
    "MT": {"pseudo_labels": "none", "mean_teacher": True},
    "MT + ours": {"mean_teacher": True},
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--labels", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--encoder", help="start from this encoder.pt (default: the paper's scratch)")
    p.add_argument("--supervised-epochs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=8, help="stage-2 epochs")
    p.add_argument(
        "--descriptor",
        default="features",
        choices=["features", "embed"],
        help="what is propagated: the penultimate features (the paper) or the metric's embedding",
    )
    p.add_argument("--k", type=int, default=50, help="kNN graph neighbours (Iscen: 50)")
    p.add_argument("--out", default="runs/lpdssl-table")
    args = p.parse_args()
    out = Path(args.out)
    results = {}
    for n in args.labels:
        base = {
            "dataset": "fashion-mnist",
            "n_labeled": n,
            "seed": args.seed,
            "supervised": {
                "init": "checkpoint" if args.encoder else "scratch",
                "checkpoint": args.encoder,
                "epochs": args.supervised_epochs,
            },
            "iterative": {
                "epochs": args.epochs,
                "batch_labeled": 32,
                "batch_unlabeled": 96,
                "descriptor": args.descriptor,
                "n_neighbors": args.k,
            },
        }
        shared = out / f"{n}" / "stage1"
        t = time.perf_counter()
        stage1 = run_lpdssl(from_dict(LPDSSLConfig, {**base, "iterative": {"epochs": 0}}), shared)
        if stage1["test_accuracy"] is not None:  # None when stage 1 has no epochs
            print(
                f"{n:5d} labels  stage 1: test {100 * stage1['test_accuracy']:.2f} %  "
                f"{time.perf_counter() - t:.0f} s",
                flush=True,
            )
        for row in args.rows:
            data = json.loads(json.dumps(base))
            data["iterative"].update(ROWS[row])
            run_dir = out / f"{n}" / row.replace(" ", "-").replace(",", "")
            if (shared / "supervised").exists() and not (run_dir / "supervised").exists():
                run_dir.mkdir(parents=True, exist_ok=True)
                shutil.copytree(shared / "supervised", run_dir / "supervised")
                shutil.copy(shared / "split.json", run_dir / "split.json")
            t = time.perf_counter()
            res = run_lpdssl(from_dict(LPDSSLConfig, data), run_dir)
            res["wall_seconds"] = time.perf_counter() - t
            lines = [
                json.loads(x)
                for x in (run_dir / "iterative" / "metrics.jsonl").read_text().splitlines()
            ]
            res["pseudo_by_epoch"] = [m.get("pseudo_label_accuracy") for m in lines]
            res["propagate_s"] = sum(m.get("propagate_seconds", 0) for m in lines) / len(lines)
            res["train_s"] = sum(m["train_seconds"] for m in lines) / len(lines)
            results[(n, row)] = res
            acc = res.get("teacher_test_accuracy", res["test_accuracy"])
            pseudo = " ".join(f"{100 * a:.1f}" for a in res["pseudo_by_epoch"] if a is not None)
            print(
                f"{n:5d} labels  {row:22s} test {100 * acc:6.2f} %  "
                f"epoch: propagate {res['propagate_s']:.1f} s + train {res['train_s']:.1f} s  "
                f"pseudo-label accuracy by epoch [{pseudo}]  {res['wall_seconds']:.0f} s",
                flush=True,
            )
    print("\n| row | " + " | ".join(f"{n} labels" for n in args.labels) + " |")
    print("|---|" + "---|" * len(args.labels))
    for row in args.rows:
        cells = []
        for n in args.labels:
            r = results.get((n, row))
            cells.append(
                ""
                if r is None
                else f"{100 * r.get('teacher_test_accuracy', r['test_accuracy']):.2f} %"
            )
        print(f"| {row} | " + " | ".join(cells) + " |")
    with open(out / "table.json", "w") as fh:
        json.dump({f"{n}/{row}": v for (n, row), v in results.items()}, fh, indent=1, default=str)
    print(f"\nmachine: {machine()}")


if __name__ == "__main__":
    main()
