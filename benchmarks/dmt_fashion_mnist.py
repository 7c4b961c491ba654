"""DMT Table 2 in miniature on Fashion-MNIST: test accuracy on the 10k test set by label count.

    .venv/bin/python benchmarks/dmt_fashion_mnist.py --labels 40 100 1000 --out runs/dmt-table
    .venv/bin/python benchmarks/dmt_fashion_mnist.py --labels 100 --metric-checkpoint runs/bench-tv04/encoder.pt

Rows: no pretraining (supervised on the labels only), instance pretraining without propagation
(finetune on the labels only), + kNN-vote, + spectral. Pretraining is shared across label counts
(trained once into OUT/metric, or an existing encoder.pt); every run directory resumes.
Also prints the pseudo-label accuracy and mAP by confidence (DMT Table 1) and each run's time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import machine

from deeplabelprop.config import from_dict
from deeplabelprop.pretrain.run import PretrainConfig, run_pretraining
from deeplabelprop.recipes import DMTConfig, run_dmt

ROWS = {
    "no pretraining": {"metric": {"source": "none"}, "finetune": {"use_pseudo_labels": False}},
    "instance, no propagation": {"finetune": {"use_pseudo_labels": False}},
    "instance + kNN-vote": {"propagate": {"method": "knn-vote"}},
    "instance + spectral": {"propagate": {"method": "spectral"}},
    # the released code's variant: only the most confident half of the pseudo labels, weight 1
    "instance + spectral, top 50 %": {
        "propagate": {"method": "spectral"},
        "finetune": {"top_ratio": 0.5},
    },
    # ours: 32 true labels in every batch of 128 (the rest pseudo labels, DMT's weights)
    "instance + spectral, labels in every batch": {
        "propagate": {"method": "spectral"},
        "finetune": {"labeled_per_batch": 32},
    },
    # ours: the most confident half within each pseudo class, 32 true labels in every batch
    "instance + spectral, top 50 % per class, labels in every batch": {
        "propagate": {"method": "spectral"},
        "finetune": {"top_ratio": 0.5, "per_class": True, "labeled_per_batch": 32},
    },
    # the same with the most confident quarter of each pseudo class
    "instance + spectral, top 25 % per class, labels in every batch": {
        "propagate": {"method": "spectral"},
        "finetune": {"top_ratio": 0.25, "per_class": True, "labeled_per_batch": 32},
    },
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--labels", type=int, nargs="+", default=[40, 100, 1000])
    p.add_argument("--rows", nargs="+", default=list(ROWS)[:4], choices=list(ROWS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric-checkpoint", help="an encoder.pt to use instead of pretraining here")
    p.add_argument("--finetune-epochs", type=int, default=20)
    p.add_argument("--out", default="runs/dmt-table")
    args = p.parse_args()
    out = Path(args.out)
    encoder = args.metric_checkpoint
    if encoder is None:
        t = time.perf_counter()
        run_pretraining(
            PretrainConfig(
                dataset="fashion-mnist",
                method="instance",
                objective="two-view",
                epochs=25,
                lr=0.06,
                tau=0.2,
                crop_scale=0.4,
                seed=args.seed,
            ),
            out / "metric",
            progress=False,
        )
        print(f"pretraining: {(time.perf_counter() - t) / 60:.1f} min")
        encoder = str(out / "metric" / "encoder.pt")
    results = {}
    for n in args.labels:
        for row in args.rows:
            data = {
                "dataset": "fashion-mnist",
                "n_labeled": n,
                "seed": args.seed,
                "metric": {"source": "checkpoint", "checkpoint": encoder},
                "finetune": {"epochs": args.finetune_epochs},
            }
            for section, values in ROWS[row].items():
                data.setdefault(section, {}).update(values)
            t = time.perf_counter()
            res = run_dmt(
                from_dict(DMTConfig, data), out / f"{n}" / row.replace(" ", "-").replace(",", "")
            )
            res["wall_seconds"] = time.perf_counter() - t
            results[(n, row)] = res
            extra = ""
            if "pseudo_label_accuracy" in res:
                extra = f", pseudo labels {100 * res['pseudo_label_accuracy']:.2f} % (mAP {100 * res['pseudo_label_map']:.1f})"
            print(
                f"{n:5d} labels  {row:28s} test {100 * res['test_accuracy']:6.2f} %{extra}  {res['wall_seconds']:.0f} s",
                flush=True,
            )
    print("\n| row | " + " | ".join(f"{n} labels" for n in args.labels) + " |")
    print("|---|" + "---|" * len(args.labels))
    for row in args.rows:
        print(
            f"| {row} | "
            + " | ".join(f"{100 * results[(n, row)]['test_accuracy']:.2f} %" for n in args.labels)
            + " |"
        )
    with open(out / "table.json", "w") as fh:
        json.dump({f"{n}/{row}": v for (n, row), v in results.items()}, fh, indent=1, default=str)
    print(f"\nmachine: {machine()}")


if __name__ == "__main__":
    main()
