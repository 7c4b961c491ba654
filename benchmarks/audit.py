"""The estimated accuracy after labels chosen by ``suggest``, with and without audit rows
(issue 25 item 2): how far the estimate is from the truth and how often its 95 % interval holds
it, on Fashion-MNIST PCA-64; beside it, what the audit rows alone measure.

    .venv/bin/python benchmarks/audit.py --seeds 100 101 102 --audit 0 3 10

The loop of a person: a cold start of 20 ``suggest``-ed labels, then rounds of +20 to 100, each
``suggest`` call adding ``--audit`` random rows (``reason=audit``), labeled too, which
accumulate over the rounds. At each budget (``propagate(..., audit=rows)``):

* the estimate (mean calibrated confidence, Wilson's interval on the held-out labels);
* the audit check: how many audit rows came back as given when hidden (Wilson's interval);
* the prediction-powered estimate (Angelopoulos et al. 2023), computed here from the same
  out-of-fold results: mean confidence over the unlabeled rows + mean over the audit rows of
  (came back right - held-out confidence), interval z·s/√n with s floored at mean f(1 - f).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from common import fashion_pca, machine

from deeplabelprop import propagate
from deeplabelprop.selection import suggest

BUDGETS = (20, 40, 60, 80, 100)


def encode(truth, chosen) -> tuple[np.ndarray, np.ndarray]:
    present = np.unique(truth[chosen])
    y = np.full(truth.size, -1)
    y[chosen] = np.searchsorted(present, truth[chosen])
    return y, present


def prediction_powered(r, audits) -> tuple[float, float, float]:
    """(estimate, low, high) from the audit rows' out-of-fold results (module docstring)."""
    oof, unl = r.out_of_fold, ~r.labeled
    at = np.isin(oof.index, audits)
    residual = (oof.labels[at] == oof.given[at]) - oof.confidence[at]
    f = r.confidence[unl]
    s2 = max(residual.var(ddof=1) if residual.size > 1 else 0.0, np.mean(f * (1 - f)))
    value = f.mean() + residual.mean()
    half = 1.96 * np.sqrt(s2 / residual.size)
    return value, value - half, value + half


def estimates(x, truth, chosen, audits) -> dict:
    y, present = encode(truth, np.r_[chosen, audits].astype(np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = propagate(x, y, audit=np.asarray(audits, dtype=np.int64) if audits else None)
    unl = y < 0
    est = r.estimated_accuracy
    out = {
        "true": float(np.mean(present[r.labels[unl]] == truth[unl])),
        "plain": (est.value, est.low, est.high),
    }
    if audits:
        a = est.audit
        out["check"] = (a.hits / a.n, a.low, a.high)
        out["ppi"] = prediction_powered(r, audits)
    return out, r


def loop(x, truth, seed: int, per_round: int) -> list[dict]:
    chosen: list[int] = []
    audits: list[int] = []
    rows, result = [], None
    for budget in BUDGETS:
        labeled = np.r_[chosen, audits].astype(np.int64)
        y = encode(truth, labeled)[0] if chosen else np.full(truth.size, -1)
        s = suggest(x, y, budget - len(chosen), result=result, audit=per_round, seed=seed)
        new = [
            i
            for i, r in zip(s.index, s.reason, strict=True)
            if r not in ("audit", "check this label")
        ]
        chosen += new
        audits += [i for i, r in zip(s.index, s.reason, strict=True) if r == "audit"]
        row, result = estimates(x, truth, chosen, audits)
        rows.append({"budget": budget, "audits": len(audits), **row})
    return rows


def stats(rows: list[dict], key: str) -> str:
    """Mean ± std of the error, intervals that held the truth, mean half-width."""
    err = np.array([r[key][0] - r["true"] for r in rows])
    held = sum(r[key][1] <= r["true"] <= r[key][2] for r in rows)
    half = np.mean([(r[key][2] - r[key][1]) / 2 for r in rows])
    return f"{100 * err.mean():+.1f} ± {100 * err.std():.1f}, {held}/{len(rows)}, ±{100 * half:.1f}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    p.add_argument("--audit", type=int, nargs="+", default=[0, 3, 10], help="audit rows per round")
    args = p.parse_args()
    x, truth = fashion_pca(64)
    table: dict = {}
    for per_round in args.audit:
        for seed in args.seeds:
            t = time.perf_counter()
            for row in loop(x, truth, seed, per_round):
                table.setdefault((per_round, row["budget"]), []).append(row)
            print(
                f"audit {per_round}/round, seed {seed}: {time.perf_counter() - t:.0f} s", flush=True
            )
    print(f"\nmachine: {machine()}; seeds {args.seeds}\n")
    print(
        "| audit rows per round | chosen labels | audit rows | true accuracy | estimate: error, "
        "interval holds the truth, half-width | audit rows alone | prediction-powered |"
    )
    print("|---|---|---|---|---|---|---|")
    for (per_round, budget), rows in sorted(table.items()):
        true = np.mean([r["true"] for r in rows])
        audit = [stats(rows, k) if per_round else "" for k in ("check", "ppi")]
        print(
            f"| {per_round} | {budget} | {rows[0]['audits']} | {100 * true:.1f} % | "
            f"{stats(rows, 'plain')} | {audit[0]} | {audit[1]} |"
        )


if __name__ == "__main__":
    main()
