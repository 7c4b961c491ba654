"""The papers' figures as PNG files (matplotlib, Agg backend): one function per figure.

Each takes plain arrays and the output path, draws one figure and closes it.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from ..atomic import atomic_path  # noqa: E402

DPI = 100


def _save(fig, path: Path) -> Path:
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")
    plt.close(fig)
    # a 256-colour palette: the same picture at a third to a tenth of the bytes
    with Image.open(buf) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    with atomic_path(path) as tmp:
        small.save(tmp, format="PNG", optimize=True)
    return path


def accumulated_accuracy(
    curves: dict[str, tuple[np.ndarray, np.ndarray, float]], path: Path
) -> Path:
    """DMT Figure 3: accuracy of the most confident pseudo labels against the share taken.

    ``curves``: name → (ratios in (0, 1], accuracies in [0, 1], mAP in [0, 1])."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (ratio, acc, m) in curves.items():
        ax.plot(100 * ratio, 100 * acc, label=f"{name} (mAP {100 * m:.1f})")
    ax.set(
        xlabel="unlabeled data taken, most confident first (%)",
        ylabel="accuracy of the pseudo labels taken (%)",
        title="Pseudo-label accuracy by confidence (DMT Fig. 3)",
        xlim=(0, 100),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def similarity_matrices(
    raw: np.ndarray, spectral: np.ndarray, bounds: list[int], path: Path
) -> Path:
    """DMT Figure 2: raw cosine vs spectral similarity of a class-sorted sample."""
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 4))
    for ax, m, title in [
        (axes[0], raw, "raw cosine similarity"),
        (axes[1], spectral, "spectral similarity W′"),
    ]:
        lo, hi = np.percentile(m, [2, 98])
        im = ax.imshow(m, cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest")
        for b in bounds[1:-1]:
            ax.axhline(b - 0.5, color="w", lw=0.5)
            ax.axvline(b - 0.5, color="w", lw=0.5)
        ax.set(
            title=title,
            xlabel="sample, sorted by true class",
            ylabel="sample, sorted by true class",
        )
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle("Similarity of a class-sorted sample (DMT Fig. 2)")
    return _save(fig, path)


def reliability_diagram(
    curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, bins: int = 15
) -> Path:
    """Accuracy against confidence in equal-width bins, one line per run (the diagonal is a
    calibrated confidence); ``curves``: name → (confidence, correct) of the pseudo labels."""
    fig, ax = plt.subplots(figsize=(5.2, 5))
    ax.plot([0, 1], [0, 1], "--", color="0.6", lw=1, label="calibrated")
    edges = np.linspace(0, 1, bins + 1)
    for name, (conf, ok) in curves.items():
        which = np.minimum((np.asarray(conf) * bins).astype(int), bins - 1)
        filled = [b for b in range(bins) if (which == b).sum() >= 10]
        x = [np.mean(conf[which == b]) for b in filled]
        y = [np.mean(ok[which == b]) for b in filled]
        ax.plot(x, y, marker="o", ms=3, label=name)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xticks=edges[::3],
        xlabel="confidence of the pseudo label",
        ylabel="accuracy of the pseudo labels in the bin",
        title="Reliability of the confidence",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def weight_histogram(weights: np.ndarray, correct: np.ndarray, path: Path) -> Path:
    """Iscen Figure 5: the confidence weights of correct and of wrong pseudo labels."""
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 1, 26)
    ok = np.asarray(correct, bool)
    ax.hist(weights[ok], bins=bins, alpha=0.7, color="tab:blue", label=f"correct ({ok.sum()})")
    ax.hist(weights[~ok], bins=bins, alpha=0.7, color="tab:red", label=f"wrong ({(~ok).sum()})")
    ax.set(
        xlabel="confidence weight of the pseudo label",
        ylabel="unlabeled examples",
        title="Confidence of correct vs wrong pseudo labels (Iscen Fig. 5)",
    )
    ax.legend()
    return _save(fig, path)


def epoch_curves(series: dict[str, dict[str, list]], path: Path) -> Path:
    """Iscen Figure 4: pseudo-label accuracy (dashed) and test accuracy (solid) per epoch; the
    weighted-kNN accuracy (dotted) of a metric's training.

    ``series``: name → {"epoch": [...], "pseudo_label_accuracy": [...], "test_accuracy": [...],
    "knn_accuracy": [...]} (missing values as None)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, s) in enumerate(series.items()):
        color = f"C{i % 10}"
        for key, style, what in [
            ("test_accuracy", "-", "test"),
            ("pseudo_label_accuracy", "--", "pseudo labels"),
            ("knn_accuracy", ":", "weighted kNN"),
        ]:
            pts = [
                (e + 1, 100 * v)
                for e, v in zip(s["epoch"], s.get(key, []), strict=False)
                if v is not None
            ]
            if pts:
                x, y = zip(*pts, strict=True)
                ax.plot(x, y, style, color=color, marker="o", ms=3, label=f"{name}: {what}")
    ax.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy per epoch (Iscen Fig. 4)")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def embedding_map(
    xy: np.ndarray, labels: np.ndarray, labeled: np.ndarray, class_names, path: Path, method: str
) -> Path:
    """Iscen Figure 1 / LLP Figure 2: a 2-D map of the embedding coloured by true class, with the
    labeled points marked."""
    fig, ax = plt.subplots(figsize=(6.4, 5))
    cmap = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for c, name in enumerate(class_names):
        m = labels == c
        ax.scatter(xy[m, 0], xy[m, 1], s=3, color=cmap(c % cmap.N), alpha=0.5, label=str(name))
    lab = np.asarray(labeled, bool)
    ax.scatter(
        xy[lab, 0], xy[lab, 1], s=40, facecolors="none", edgecolors="k", lw=1, label="labeled"
    )
    ax.set(title=f"Embedding map ({method}), coloured by true class", xticks=[], yticks=[])
    ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(fig, path)


def confident_mistakes(
    images: np.ndarray, captions: list[str], path: Path, columns: int = 8
) -> Path:
    """Iscen Figure 7: the wrong pseudo labels with the highest confidence, with captions."""
    n = len(images)
    rows = max(1, -(-n // columns))
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(1.6 * columns, 2.0 * rows + 0.4),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, cap in zip(axes.ravel(), images, captions, strict=False):
        ax.imshow(img.squeeze(), cmap="gray" if img.shape[-1] == 1 else None)
        ax.set_title(cap, fontsize=7)
    fig.suptitle(
        "Most confident wrong pseudo labels: predicted (confidence) / true (Iscen Fig. 7)",
        fontsize=9,
    )
    return _save(fig, path)
