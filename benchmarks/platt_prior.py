"""A Platt map shrunk towards the method's own top probability (a Gaussian prior on its
coefficients, centred where the map is the identity), against the library's Platt fit and the
raw top probability: a candidate for the calibration error at 100 labels (issue 27 item 2),
rejected by this measurement (RESULTS.md: it helps on Fashion-MNIST, where the top probability
is nearly calibrated already, and is far worse on digits, where it is not).

Each draw propagates once (`Pipeline(method, calibration="platt")`), then fits the maps on the
same out-of-fold results and scores them over the unlabeled rows (15-bin ECE):

* ``platt``: the library's map (`calibration.fit_platt`);
* ``shrunk``: the same features, penalised by ``--prior`` · ‖w - (1, 0, 0)‖² / 2;
* ``raw``: the top class probability, no map.

    .venv/bin/python benchmarks/platt_prior.py --labels 40 100 300 --seeds 100 101 102 \\
        --methods spectral knn-vote local
    .venv/bin/python benchmarks/platt_prior.py --data fashion-test ...   # data not tuned on
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
from common import FASHION, balanced_split, fashion_pca
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from deeplabelprop.evaluate import expected_calibration_error
from deeplabelprop.propagation import Pipeline
from deeplabelprop.propagation.calibration import CalibrationMap, fit_platt, platt_features


def data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, truth): Fashion-MNIST PCA-64 of the training images, of the test images
    (PCA fitted on the training images), or scikit-learn's digits (unit rows of the pixels)."""
    if name == "fashion":
        return fashion_pca()
    if name == "digits":
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        return x.astype(np.float32), y
    from sklearn.decomposition import PCA

    from deeplabelprop.data import read_idx

    def images(kind: str) -> np.ndarray:
        return read_idx(FASHION / f"{kind}-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0

    pca = PCA(64, random_state=0).fit(images("train"))
    truth = read_idx(FASHION / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    return pca.transform(images("t10k")).astype(np.float32), truth


def shrunk(probabilities: np.ndarray, truth: np.ndarray, prior: float):
    """P(correct) = σ(a · logit(top) + b · logit(margin) + c), the penalised likelihood's
    maximum with the penalty centred at (1, 0, 0): the top probability itself."""
    correct = (probabilities.argmax(axis=1) == truth).astype(np.float64)
    features = np.c_[platt_features(probabilities), np.ones(correct.size)]
    centre = np.array([1.0, 0.0, 0.0])

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = features @ w
        nll = -(correct * log_expit(z) + (1.0 - correct) * log_expit(-z)).sum()
        d = w - centre
        return nll + 0.5 * prior * d @ d, features.T @ (expit(z) - correct) + prior * d

    w = minimize(objective, centre, jac=True, method="L-BFGS-B").x
    return lambda p: expit(np.c_[platt_features(p), np.ones(len(p))] @ w)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--labels", type=int, nargs="+", default=[40, 100, 300])
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    p.add_argument("--methods", nargs="+", default=["spectral", "knn-vote", "local"])
    p.add_argument("--prior", type=float, default=10.0, help="the penalty's strength")
    p.add_argument("--data", choices=["fashion", "fashion-test", "digits"], default="fashion")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    x, truth = data(args.data)
    for method in args.methods:
        for m in args.labels:
            ece: dict = {"platt": [], "shrunk": [], "raw": []}
            for seed in args.seeds:
                y = balanced_split(truth, m, seed)
                result = Pipeline(method, calibration="platt").run(x, y, int(truth.max()) + 1)
                unl = y < 0
                prob = result.probabilities[unl]
                correct = prob.argmax(1) == truth[unl]
                oof = result.out_of_fold
                platt = CalibrationMap(
                    "platt", {"coefficients": fit_platt(oof.probabilities, oof.given)}
                )
                ece["platt"].append(expected_calibration_error(platt.confidence(prob), correct))
                conf = shrunk(oof.probabilities, oof.given, args.prior)(prob)
                ece["shrunk"].append(expected_calibration_error(conf, correct))
                ece["raw"].append(expected_calibration_error(prob.max(1), correct))
            row = {"data": args.data, "method": method, "labels": m, "seeds": args.seeds}
            row |= {k: [round(v, 4) for v in vals] for k, vals in ece.items()}
            row |= {f"mean_{k}": round(float(np.mean(vals)), 4) for k, vals in ece.items()}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
