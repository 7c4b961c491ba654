"""The labeling loop as a person runs it (issue 25, done-when), with a script standing in for the
person: it fills each ``to_label.csv`` from the truth written beside the folder.

    .venv/bin/python benchmarks/fashion_folder.py --n-labeled 0 -o /tmp/fm
    .venv/bin/python benchmarks/loop.py /tmp/fm --work /tmp/loop --metric-epochs 3

Shared first step: ``pretrain`` on the folder nobody has labeled (an instance-discrimination
metric reads no label). Then, per arm, on its own copy of the folder (hard links: the images
are shared, each arm's ``labels.csv`` is its own):

* ``suggest``: ``suggest`` the pretrain run ``-n 20`` (the cold start), label, ``run``; then
  ``suggest RUN -n 20`` (3 audit rows each time, labeled too), label, ``run`` again, to the
  last budget;
* ``random``: the same commands, but each round's 20 images drawn at random by the script.

Every ``run`` is the same command, ``--labels-from`` the round's filled file; the metric is the
pretrain's encoder (``metric.source = "checkpoint"``), so a round costs propagate + finetune.
Per round: test accuracy, accuracy of the pseudo labels on the unlabeled images (against the
truth), and the estimated accuracy with its interval and basis.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "fashion-mnist"
CLI = [sys.executable, "-m", "deeplabelprop"]


def call(args: list[str]) -> str:
    t = time.perf_counter()
    out = subprocess.run([*CLI, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    print(f"  {args[0]} ({time.perf_counter() - t:.0f} s)", flush=True)
    return out.stdout


def read_truth(folder: Path) -> dict[str, str]:
    rows = csv.DictReader(open(folder.with_name(folder.name + ".truth.csv"), encoding="utf-8"))
    return {r["path"]: r["label"] for r in rows}


def fill(to_label: Path, out: Path, truth: dict[str, str]) -> int:
    """The person: every suggested row gets its true class (``new:`` for a class not seen yet
    is accepted as the class name here, since the run adds classes as they come)."""
    rows = list(csv.DictReader(open(to_label, encoding="utf-8")))
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            r["label"] = "new:" + truth[r["path"]]
            w.writerow(r)
    return len(rows)


def random_rows(folder: Path, labeled: set[str], n: int, seed: int, out: Path) -> None:
    pool = sorted(set(read_truth(folder)) - labeled)
    picks = np.random.default_rng(seed).choice(len(pool), n, replace=False)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["rank", "index", "path", "reason", "guess", "guess_confidence", "label"])
        for rank, i in enumerate(picks, start=1):
            w.writerow([rank, "", pool[i], "random", "", "", ""])


def measure(run: Path, truth: dict[str, str]) -> dict:
    results = json.loads((run / "results.json").read_text())
    rows = list(csv.DictReader(open(run / "pseudo_labels.csv", encoding="utf-8")))
    unl = [r for r in rows if r["given"] != "1"]
    est = results.get("estimated_accuracy") or {}
    return {
        "given": len(rows) - len(unl),
        "test_accuracy": results.get("test_accuracy"),
        "pseudo_accuracy": float(np.mean([truth[r["path"]] == r["label"] for r in unl])),
        "estimate": [est.get("value"), est.get("low"), est.get("high")],
        "audit": est.get("audit"),
    }


def arm(name: str, args, encoder: Path, pretrain: Path, truth: dict[str, str]) -> list[dict]:
    folder = args.work / name / "folder"
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-al", str(args.folder), str(folder)], check=True)
    run = args.work / name / "run"
    common = [
        "run",
        str(CONFIG / "dmt.toml"),
        "--set",
        f"dataset=folder:{folder}",
        "--set",
        "image_size=28",
        "--set",
        "metric.source=checkpoint",
        "--set",
        f"metric.checkpoint={encoder}",
        "--set",
        f"finetune.epochs={args.finetune_epochs}",
        "-o",
        str(run),
    ]
    out, labeled = [], set()
    for k, budget in enumerate(args.budgets, start=1):
        to_label = args.work / name / f"to_label{k}.csv"
        n = budget - (out[-1]["given"] if out else 0)
        if name == "random":
            random_rows(args.folder, labeled, n, args.seed + k, to_label)
        else:
            source = pretrain if k == 1 else run
            audit = [] if k == 1 else ["--audit", str(args.audit)]
            seed = ["--seed", str(args.seed)]
            call(["suggest", str(source), "-n", str(n), *audit, *seed, "-o", str(to_label)])
        filled = to_label.with_name(f"filled{k}.csv")
        fill(to_label, filled, truth)
        call([*common, "--labels-from", str(filled)])
        labeled |= {r["path"] for r in csv.DictReader(open(filled, encoding="utf-8"))}
        out.append({"round": k, **measure(run, truth)})
        print(f"{name} round {k}: {out[-1]}", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder", type=Path, help="benchmarks/fashion_folder.py --n-labeled 0 output")
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--budgets", type=int, nargs="+", default=[20, 40, 60, 80, 100])
    p.add_argument("--metric-epochs", type=int, default=3)
    p.add_argument("--finetune-epochs", type=int, default=2)
    p.add_argument("--audit", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arms", nargs="+", default=["suggest", "random"])
    args = p.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    truth = read_truth(args.folder)
    pretrain = args.work / "pretrain"
    if not (pretrain / "encoder.pt").is_file():
        call(
            [
                "pretrain",
                str(CONFIG / "pretrain.toml"),
                "--set",
                f"dataset=folder:{args.folder}",
                "--set",
                "image_size=28",
                "--set",
                f"metric.epochs={args.metric_epochs}",
                "-o",
                str(pretrain),
            ]
        )
    table = {a: arm(a, args, pretrain / "encoder.pt", pretrain, truth) for a in args.arms}
    (args.work / "loop.json").write_text(json.dumps(table, indent=1))
    print(
        "\n| round | labels | " + " | ".join(f"{a}: test, pseudo, estimate" for a in table) + " |"
    )
    print("|---|---|" + "---|" * len(table))
    for i, budget in enumerate(args.budgets):
        cells = []
        for a in table:
            r = table[a][i]
            v, lo, hi = r["estimate"]
            est = "" if v is None else f"{100 * v:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
            if r["audit"]:
                a = r["audit"]
                est += f", audit {a['hits']}/{a['n']} [{100 * a['low']:.0f}, {100 * a['high']:.0f}]"
            cells.append(
                f"{100 * r['test_accuracy']:.1f} %, {100 * r['pseudo_accuracy']:.1f} %, {est}"
            )
        print(f"| {i + 1} | {budget} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
