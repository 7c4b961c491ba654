"""The report's figures: DMT Fig. 2-3 and Iscen Fig. 1/4/5/7 from the runs' arrays, one
function per figure family; each returns (figures drawn, notes on what could not be drawn)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...propagation.spectral import spectral_similarity
from .. import plots
from ..metrics import accumulated_accuracy_curve, pseudo_label_map
from .document import Figure
from .load import Run


def _has_truth(r: Run) -> bool:
    return (
        r.pseudo is not None
        and r.truth is not None
        and r.labeled is not None
        and (~r.labeled).any()
    )


def confidence_figures(runs: list[Run], out: Path) -> tuple[list[Figure], list[str]]:
    """Pseudo-label accuracy by confidence (DMT Fig. 3), the reliability of the confidence, and
    the confidence of correct vs wrong pseudo labels (Iscen Fig. 5)."""
    figs, notes, curves, reliability = [], [], {}, {}
    for r in runs:
        if not _has_truth(r):
            notes.append(f"{r.name}: no pseudo labels with ground truth, no confidence curves")
            continue
        unl = ~r.labeled
        correct = r.pseudo[unl] == r.truth[unl]
        ratio, acc = accumulated_accuracy_curve(r.confidence[unl], correct)
        step = max(1, len(ratio) // 500)
        curves[r.name] = (
            ratio[::step],
            acc[::step],
            pseudo_label_map(r.confidence, r.pseudo, r.truth, unl),
        )
        path = plots.weight_histogram(r.confidence[unl], correct, out / f"{r.name}_weights.png")
        figs.append(Figure(f"{r.name}: confidence of correct and wrong pseudo labels", path))
    if curves:
        path = plots.accumulated_accuracy(curves, out / "accumulated_accuracy.png")
        figs.insert(0, Figure("Accumulated pseudo-label accuracy", path))
        path = plots.reliability_diagram(reliability, out / "reliability.png")
        figs.insert(1, Figure("Reliability of the confidence (calibrated: on the diagonal)", path))
    return figs, notes


def epoch_figure(runs: list[Run], out: Path) -> tuple[list[Figure], list[str]]:
    """Test and pseudo-label accuracy per epoch (Iscen Fig. 4)."""
    series = {
        r.name: {
            "epoch": [m["epoch"] for m in r.epochs],
            "test_accuracy": [m.get("test_accuracy") for m in r.epochs],
            "pseudo_label_accuracy": [m.get("pseudo_label_accuracy") for m in r.epochs],
            "knn_accuracy": [m.get("knn_accuracy") for m in r.epochs],
        }
        for r in runs
        if r.epochs
    }
    if not series:
        return [], []
    return [Figure("Accuracy per epoch", plots.epoch_curves(series, out / "epochs.png"))], []


def _sample_by_class(labels: np.ndarray, per_class_n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            np.sort(rng.permutation(np.flatnonzero(labels == c))[:per_class_n])
            for c in np.unique(labels)
        ]
    )


def _project(x: np.ndarray, method: str) -> tuple[np.ndarray, str]:
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, init="pca", random_state=0).fit_transform(x), "t-SNE"
    xc = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    return xc @ vt[:2].T, "PCA"


def feature_figures(r: Run, out: Path, embedding: str) -> list[Figure]:
    """Raw vs spectral similarity (DMT Fig. 2) and a 2-D map of the embedding (Iscen Fig. 7)."""
    shown = _sample_by_class(r.truth, 20)
    shown = shown[np.argsort(r.truth[shown], kind="stable")]
    bounds = [0, *np.cumsum(np.bincount(r.truth[shown])).tolist()]
    xs = r.features[shown] / np.linalg.norm(r.features[shown], axis=1, keepdims=True)
    similarity = plots.similarity_matrices(
        xs @ xs.T, spectral_similarity(r.features, shown), bounds, out / f"{r.name}_similarity.png"
    )
    pts = _sample_by_class(r.truth, 300, seed=1)
    if r.labeled is not None:
        pts = np.union1d(pts, np.flatnonzero(r.labeled))
    xy, method = _project(r.features[pts], embedding)
    labeled = r.labeled[pts] if r.labeled is not None else np.zeros(len(pts), bool)
    emap = plots.embedding_map(
        xy, r.truth[pts], labeled, r.classes, out / f"{r.name}_embedding.png", method
    )
    return [
        Figure(f"{r.name}: raw vs spectral similarity", similarity),
        Figure(f"{r.name}: embedding map", emap),
    ]


def embedding_figures(runs: list[Run], out: Path, embedding: str) -> tuple[list[Figure], list[str]]:
    """:func:`feature_figures` once per distinct feature set."""
    figs, notes, drawn = [], [], []
    for r in runs:
        if r.features is None or r.truth is None:
            notes.append(f"{r.name}: no saved features, no similarity matrix or embedding map")
            continue
        if len(r.features) != len(r.truth):
            notes.append(
                f"{r.name}: its features ({len(r.features)} rows) are not one per training "
                f"image ({len(r.truth)}): no similarity matrix or embedding map"
            )
            continue
        same = next(
            (
                d
                for d in drawn
                if d.features.shape == r.features.shape and np.array_equal(d.features, r.features)
            ),
            None,
        )
        if same is not None:
            notes.append(
                f"{r.name}: the same features as {same.name}, whose similarity and map are shown"
            )
            continue
        drawn.append(r)
        figs += feature_figures(r, out, embedding)
    return figs, notes


def mistake_figures(runs: list[Run], out: Path) -> tuple[list[Figure], list[str]]:
    """The most confident wrong pseudo labels, as images."""
    figs, notes = [], []
    for r in runs:
        if r.images is None or not _has_truth(r):
            continue
        wrong = np.flatnonzero(~r.labeled & (r.pseudo != r.truth))
        top = wrong[np.argsort(-r.confidence[wrong], kind="stable")[:16]]
        if not top.size:
            notes.append(f"{r.name}: every pseudo label is correct, no mistakes to show")
            continue
        caps = [
            f"{r.classes[r.pseudo[i]]} ({r.confidence[i]:.2f})\n/ {r.classes[r.truth[i]]}"
            for i in top
        ]
        path = plots.confident_mistakes(
            np.asarray(r.images[np.sort(top)])[np.argsort(np.argsort(top))],
            caps,
            out / f"{r.name}_mistakes.png",
        )
        figs.append(Figure(f"{r.name}: most confident wrong pseudo labels", path))
    return figs, notes
