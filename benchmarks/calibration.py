"""Is the confidence a probability? (issue 18) Expected calibration error, AUROC of confidence
for correct vs wrong pseudo labels, and the accuracy of the 10 / 25 / 50 % most confident, on
Fashion-MNIST PCA-64 (or features from a file), for every method and the peers.

    .venv/bin/python benchmarks/calibration.py --labels 40 100 1000 --seeds 0 1 2 --out calib.json
    .venv/bin/python benchmarks/calibration.py --features runs/pretrain-fashion/features.npy ...

Per method: the method's own confidence (DMT's margin, Iscen's ω, LLP's p_y), its raw top
probability, and the calibrated confidence fitted on the labeled points only by held-out folds:
``auto`` (the default: the map the method declares), temperature and Platt. Peers (``make bench``): scikit-learn LabelSpreading and graphlearning's
Laplace / Poisson learning, via their own scores (rows clipped at 0 and normalised).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import balanced_split, fashion_pca, machine
from sklearn.exceptions import ConvergenceWarning

from deeplabelprop.evaluate import auroc, expected_calibration_error, top_fraction_accuracy
from deeplabelprop.propagation import Pipeline
from deeplabelprop.propagation.result import normalize_rows

METHODS = {
    "diffusion": {"n_neighbors": 10},
    "spectral": {},
    "knn-vote": {},
    "local": {},
    "harmonic": {"n_neighbors": 10},
}


def scores(confidence, correct) -> dict:
    return {
        "ece": expected_calibration_error(confidence, correct),
        "auroc": auroc(confidence, correct),
        "mean": float(np.mean(confidence)),
        **{
            f"top{int(100 * f)}": top_fraction_accuracy(confidence, correct, f)
            for f in (0.1, 0.25, 0.5)
        },
    }


def ours(name: str, x, y, truth, seed: int) -> dict:
    """Accuracy, the graph's and the calibration's seconds, and each map's scores, on one
    prepared graph (the maps differ only in the held-out solves' fit)."""
    pipeline = Pipeline(name, params=METHODS[name], calibration="none")
    t = time.perf_counter()
    graph = pipeline.prepare(x, seed=seed)
    result = pipeline.run(x, y, seed=seed, graph=graph)
    seconds = time.perf_counter() - t
    unl = y < 0
    correct = result.labels[unl] == truth[unl]
    row = {"accuracy": float(correct.mean()), "seconds": seconds}
    row["own"] = scores(result.weights[unl], correct)  # the paper's confidence (a weight)
    row["top_probability"] = scores(result.probabilities[unl].max(1), correct)
    for method in ("auto", "temperature", "platt"):
        cal = replace(pipeline, calibration=method).run(x, y, seed=seed, graph=graph)
        row[method] = scores(cal.confidence[unl], correct)
        row[method]["fit"] = cal.info["calibration"]
        row[method]["calibration_seconds"] = cal.timings["calibration"]
        est = cal.estimated_accuracy
        row[method]["estimated_accuracy"] = [est.value, est.low, est.high]
    row["calibration_seconds"] = row["auto"]["calibration_seconds"]
    return row


def peers(x, y, truth) -> dict:
    from sklearn.semi_supervised import LabelSpreading

    out = {}
    unl = y < 0
    t = time.perf_counter()
    ls = LabelSpreading(kernel="knn", n_neighbors=10, max_iter=100).fit(x, y)
    prob = np.nan_to_num(ls.label_distributions_)
    correct = prob[unl].argmax(1) == truth[unl]
    out["sklearn LabelSpreading"] = {
        "accuracy": float(correct.mean()),
        "seconds": time.perf_counter() - t,
        "top_probability": scores(prob[unl].max(1), correct),
    }
    try:
        import graphlearning as gl
    except ImportError:
        return out
    t0 = time.perf_counter()
    w = gl.weightmatrix.knn(x, 10)
    build = time.perf_counter() - t0
    lab = np.flatnonzero(~unl)
    for name, model in (
        ("graphlearning Laplace", gl.ssl.laplace(w)),
        ("graphlearning Poisson", gl.ssl.poisson(w)),
    ):
        t = time.perf_counter()
        u = model.fit(lab, y[lab])
        prob = normalize_rows(u)
        correct = u[unl].argmax(1) == truth[unl]
        out[name] = {
            "accuracy": float(correct.mean()),
            "seconds": build + time.perf_counter() - t,
            "top_probability": scores(prob[unl].max(1), correct),
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--labels", type=int, nargs="+", default=[40, 100, 1000])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--features", type=Path, help="an (n, d) .npy instead of PCA-64 of the pixels")
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    x, truth = fashion_pca()
    if args.features is not None:
        x = np.load(args.features).astype(np.float32)
    rows = []
    for n in args.labels:
        for seed in args.seeds:
            y = balanced_split(truth, n, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                for name in args.methods:
                    rows.append(
                        {"labels": n, "seed": seed, "method": name, **ours(name, x, y, truth, seed)}
                    )
                    print(
                        json.dumps(
                            {k: rows[-1][k] for k in ("labels", "seed", "method", "accuracy")}
                            | {
                                "ece_auto": round(rows[-1]["auto"]["ece"], 4),
                                "ece_temperature": round(rows[-1]["temperature"]["ece"], 4),
                                "ece_platt": round(rows[-1]["platt"]["ece"], 4),
                                "propagation_s": round(rows[-1]["seconds"], 3),
                                "calibration_s": round(rows[-1]["calibration_seconds"], 3),
                                "estimated": [
                                    round(v, 4) for v in rows[-1]["auto"]["estimated_accuracy"]
                                ],
                            }
                        ),
                        flush=True,
                    )
            if not args.no_peers:
                for name, r in peers(x, y, truth).items():
                    rows.append({"labels": n, "seed": seed, "method": name, **r})
                    print(
                        json.dumps(
                            {
                                "labels": n,
                                "seed": seed,
                                "method": name,
                                "accuracy": r["accuracy"],
                                "ece": r["top_probability"]["ece"],
                            }
                        ),
                        flush=True,
                    )
    args.out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
