"""``deeplabelprop report``: the figures and tables of one or more runs, as Markdown and HTML.

A run is a recipe's run directory (``dmt``, ``lpdssl``, ``llp``) or the ``.npz`` written by
``deeplabelprop propagate`` (with an optional ground-truth file). The numbers come from the
run's own files; every figure a run has the data for is drawn, the others are skipped with a
line saying why.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import InputError
from . import plots
from .metrics import accumulated_accuracy_curve, pseudo_label_accuracy, pseudo_label_map

STAGE_METRICS = {"dmt": "finetune", "lpdssl": "iterative", "llp": "llp"}
PSEUDO_DIRS = {"lpdssl": "iterative/pseudo", "llp": "llp/pseudo"}
FEATURES = ("metric/features.npy", "warm/features.npy")


@dataclass
class Run:
    """What a report needs from one run; absent pieces are None."""

    name: str
    kind: str
    classes: list[str]
    pseudo: np.ndarray | None = None  # (N,) class indices
    confidence: np.ndarray | None = None
    labeled: np.ndarray | None = None  # (N,) bool
    truth: np.ndarray | None = None
    features: np.ndarray | None = None
    images: np.ndarray | None = None
    epochs: list[dict] = field(default_factory=list)
    results: dict = field(default_factory=dict)
    test_labels: np.ndarray | None = None
    test_predictions: np.ndarray | None = None


def _read_truth(path: Path, classes: list[str], n: int) -> np.ndarray:
    values = (
        np.load(path, allow_pickle=False)
        if path.suffix == ".npy"
        else np.loadtxt(path, dtype=str, delimiter=",", ndmin=1)
    )
    index = {c: i for i, c in enumerate(classes)}
    try:
        truth = np.array([index[str(v)] for v in values])
    except KeyError as err:
        raise InputError(
            f"{path}: label {err.args[0]!r} is not one of the run's classes {classes}"
        ) from None
    if truth.shape != (n,):
        raise InputError(f"{path} has {truth.shape[0]} labels for {n} points; give one per point")
    return truth


def _from_npz(path: Path, truth: Path | None) -> Run:
    try:
        z = np.load(path, allow_pickle=False)
        classes = [str(c) for c in z["classes"]]
        run = Run(
            path.stem,
            "propagate",
            classes,
            z["label_index"],
            z["confidence"],
            z["labeled"].astype(bool),
        )
    except (OSError, ValueError, KeyError) as err:
        raise InputError(f"{path} is not an output of `deeplabelprop propagate` ({err})") from None
    if truth is not None:
        run.truth = _read_truth(truth, classes, len(run.pseudo))
    return run


def _jsonl(path: Path) -> list[dict]:
    return (
        [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    )


def _from_run_dir(path: Path) -> Run:
    from ..recipes.common import train_and_test

    kind = next((k for k, d in STAGE_METRICS.items() if (path / d).is_dir()), None)
    if kind is None or not (path / "config.json").exists():
        raise InputError(
            f"{path} is not a run directory of dmt, lpdssl or llp (no config.json with "
            "finetune/, iterative/ or llp/); for a propagate output give the .npz file"
        )
    cfg = json.loads((path / "config.json").read_text())
    train_set, test_set = train_and_test(
        cfg["dataset"],
        cfg.get("data_dir"),
        fast_dev_run=cfg.get("fast_dev_run", False),
        seed=cfg["seed"],
    )
    run = Run(path.name, kind, [str(c) for c in train_set.classes], truth=train_set.labels)
    run.images, run.test_labels = train_set.images, test_set.labels
    if kind == "dmt" and (path / "propagate" / "pseudo.npz").exists():
        z = np.load(path / "propagate" / "pseudo.npz")
        run.pseudo, run.confidence, run.labeled = z["labels"], z["confidence"], z["labeled"]
    elif kind in PSEUDO_DIRS:
        files = sorted((path / PSEUDO_DIRS[kind]).glob("epoch_*.npz"))
        if files:
            z = np.load(files[-1])
            run.pseudo, run.confidence = (
                z["labels"].astype(np.int64),
                z["weights"].astype(np.float64),
            )
            run.labeled = z["labeled"]
    if run.labeled is None and (path / "split.json").exists():
        run.labeled = np.zeros(len(train_set.labels), bool)
        run.labeled[json.loads((path / "split.json").read_text())["labeled"]] = True
    feats = next((path / f for f in FEATURES if (path / f).exists()), None)
    run.features = None if feats is None else np.load(feats)
    run.epochs = _jsonl(path / STAGE_METRICS[kind] / "metrics.jsonl")
    if (path / "results.json").exists():
        run.results = json.loads((path / "results.json").read_text())
    if (path / "test_predictions.npy").exists():
        run.test_predictions = np.load(path / "test_predictions.npy")
    elif (path / STAGE_METRICS[kind] / "checkpoint.pt").exists():  # a run from before the file
        run.test_predictions = _predict(
            path / STAGE_METRICS[kind] / "checkpoint.pt", cfg, train_set, test_set
        )
    return run


def _predict(checkpoint: Path, cfg: dict, train_set, test_set) -> np.ndarray:
    """Test predictions of the final model of a run (the EMA teacher when there is one)."""
    from ..data import ImageStream, ShiftFlip
    from ..models import build_model
    from ..train import AccuracyMonitor, load_checkpoint

    state = load_checkpoint(checkpoint)
    teacher = (state.get("task") or {}).get("teacher")
    model = build_model(
        cfg["model"], train_set.shape[2], n_classes=len(train_set.classes), width=cfg.get("width")
    )
    model.load_state_dict(teacher if teacher is not None else state["model"])
    stream = ImageStream(train_set.images[:1], ShiftFlip(), dataset=cfg["dataset"])
    return AccuracyMonitor(test_set.images, test_set.labels).predict(model, stream)


def load_run(path: str | Path, truth: str | Path | None = None) -> Run:
    """A run directory, or a propagate ``.npz`` with an optional ground-truth file (.npy or a
    one-column CSV of class names, one per point)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_file():
        return _from_npz(path, None if truth is None else Path(truth))
    return _from_run_dir(path)


def per_class(run: Run) -> list[dict]:
    """Labeled count, pseudo-labeled count, pseudo-label precision and test accuracy per class."""
    rows = []
    unl = None if run.labeled is None else ~run.labeled
    for c, name in enumerate(run.classes):
        row: dict = {"class": name}
        if run.labeled is not None and run.truth is not None:
            row["labeled"] = int(np.sum(run.labeled & (run.truth == c)))
        elif run.labeled is not None and run.pseudo is not None:
            row["labeled"] = int(np.sum(run.labeled & (run.pseudo == c)))
        if run.pseudo is not None and unl is not None:
            mine = unl & (run.pseudo == c)
            row["pseudo_labeled"] = int(mine.sum())
            if run.truth is not None:
                row["pseudo_label_accuracy"] = (
                    float(np.mean(run.truth[mine] == c)) if mine.any() else None
                )
        if run.test_predictions is not None and run.test_labels is not None:
            m = run.test_labels == c
            row["test_accuracy"] = float(np.mean(run.test_predictions[m] == c)) if m.any() else None
        rows.append(row)
    return rows


def summary(run: Run) -> dict:
    """One row of final metrics."""
    row = {"run": run.name, "recipe": run.kind}
    if run.labeled is not None:
        row["labels"] = int(run.labeled.sum())
    if run.test_predictions is not None and run.test_labels is not None:
        row["test_accuracy"] = float(np.mean(run.test_predictions == run.test_labels))
    elif "test_accuracy" in run.results:
        row["test_accuracy"] = run.results["test_accuracy"]
    if (
        run.pseudo is not None
        and run.truth is not None
        and run.labeled is not None
        and (~run.labeled).any()
    ):
        unl = ~run.labeled
        row["pseudo_label_accuracy"] = pseudo_label_accuracy(run.pseudo, run.truth, unl)
        row["pseudo_label_map"] = pseudo_label_map(run.confidence, run.pseudo, run.truth, unl)
    return row


def _pct(v) -> str:
    return "" if v is None else f"{100 * v:.2f} %"


def _table(rows: list[dict]) -> list[str]:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    fmt = {
        k: (
            _pct if "accuracy" in k or k.endswith("_map") else lambda v: "" if v is None else str(v)
        )
        for k in keys
    }
    lines = ["| " + " | ".join(k.replace("_", " ") for k in keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt[k](r.get(k)) for k in keys) + " |" for r in rows]
    return lines


def _sample_by_class(labels: np.ndarray, per_class_n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            np.sort(rng.permutation(np.flatnonzero(labels == c))[:per_class_n])
            for c in np.unique(labels)
        ]
    )


def _spectral_similarity(x: np.ndarray, shown: np.ndarray, seed: int = 0) -> np.ndarray:
    """W' = Σ f(λ_j) e_j e_jᵀ (DMT eq. 6, the library's filter) of a graph on a sample that holds
    the shown points, restricted to them."""
    from ..graph import knn_graph, l2_normalize
    from ..graph.spectrum import laplacian_eigenpairs
    from ..propagation.spectral import spectral_basis

    rng = np.random.default_rng(seed)
    others = np.setdiff1d(np.arange(len(x)), shown)
    pool = np.concatenate([shown, rng.permutation(others)[: max(0, 2000 - len(shown))]])
    xs = l2_normalize(x[pool].astype(np.float64))
    graph = knn_graph(xs, min(20, len(pool) - 1), kernel="exp", tau=0.1)
    spectrum = laplacian_eigenpairs(graph.normalized, min(200, len(pool) - 2), random_state=seed)
    basis, w = spectral_basis(spectrum, graph.degrees, spectral_filter="diffusion")
    e = basis[: len(shown)]
    return (e * w) @ e.T


def _figures(
    runs: list[Run], out: Path, embedding: str
) -> tuple[list[tuple[str, Path]], list[str]]:
    figs, notes = [], []
    curves = {}
    for r in runs:
        if r.pseudo is None or r.truth is None or r.labeled is None or not (~r.labeled).any():
            notes.append(f"{r.name}: no pseudo labels with ground truth, no confidence curves")
            continue
        unl = ~r.labeled
        ratio, acc = accumulated_accuracy_curve(r.confidence[unl], r.pseudo[unl] == r.truth[unl])
        step = max(1, len(ratio) // 500)
        curves[r.name] = (
            ratio[::step],
            acc[::step],
            pseudo_label_map(r.confidence, r.pseudo, r.truth, unl),
        )
        figs.append(
            (
                f"{r.name}: confidence of correct and wrong pseudo labels",
                plots.weight_histogram(
                    r.confidence[unl], r.pseudo[unl] == r.truth[unl], out / f"{r.name}_weights.png"
                ),
            )
        )
    if curves:
        figs.insert(
            0,
            (
                "Accumulated pseudo-label accuracy",
                plots.accumulated_accuracy(curves, out / "accumulated_accuracy.png"),
            ),
        )
    series = {
        r.name: {
            "epoch": [m["epoch"] for m in r.epochs],
            "test_accuracy": [m.get("test_accuracy") for m in r.epochs],
            "pseudo_label_accuracy": [m.get("pseudo_label_accuracy") for m in r.epochs],
        }
        for r in runs
        if r.epochs
    }
    if series:
        figs.append(("Accuracy per epoch", plots.epoch_curves(series, out / "epochs.png")))
    drawn: list[Run] = []
    for r in runs:
        if r.features is None or r.truth is None:
            notes.append(f"{r.name}: no saved features, no similarity matrix or embedding map")
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
        shown = _sample_by_class(r.truth, 20)
        order = np.argsort(r.truth[shown], kind="stable")
        shown = shown[order]
        bounds = [0, *np.cumsum(np.bincount(r.truth[shown])).tolist()]
        xs = r.features[shown] / np.linalg.norm(r.features[shown], axis=1, keepdims=True)
        figs.append(
            (
                f"{r.name}: raw vs spectral similarity",
                plots.similarity_matrices(
                    xs @ xs.T,
                    _spectral_similarity(r.features, shown),
                    bounds,
                    out / f"{r.name}_similarity.png",
                ),
            )
        )
        pts = _sample_by_class(r.truth, 300, seed=1)
        if r.labeled is not None:
            pts = np.union1d(pts, np.flatnonzero(r.labeled))
        xy, method = _project(r.features[pts], embedding)
        figs.append(
            (
                f"{r.name}: embedding map",
                plots.embedding_map(
                    xy,
                    r.truth[pts],
                    r.labeled[pts] if r.labeled is not None else np.zeros(len(pts), bool),
                    r.classes,
                    out / f"{r.name}_embedding.png",
                    method,
                ),
            )
        )
    for r in runs:
        if r.images is None or r.pseudo is None or r.truth is None or r.labeled is None:
            continue
        wrong = np.flatnonzero(~r.labeled & (r.pseudo != r.truth))
        top = wrong[np.argsort(-r.confidence[wrong], kind="stable")[:16]]
        if not top.size:
            notes.append(f"{r.name}: every pseudo label is correct, no mistakes to show")
        else:
            caps = [
                f"{r.classes[r.pseudo[i]]} ({r.confidence[i]:.2f})\n/ {r.classes[r.truth[i]]}"
                for i in top
            ]
            figs.append(
                (
                    f"{r.name}: most confident wrong pseudo labels",
                    plots.confident_mistakes(r.images[top], caps, out / f"{r.name}_mistakes.png"),
                )
            )
    return figs, notes


def _project(x: np.ndarray, method: str) -> tuple[np.ndarray, str]:
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, init="pca", random_state=0).fit_transform(x), "t-SNE"
    xc = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    return xc @ vt[:2].T, "PCA"


def build_report(paths, out_dir, *, truth=None, embedding: str = "pca") -> dict:
    """Write report.md, report.html (images embedded), report.json and the PNGs into
    ``out_dir``; returns the tables (the content of report.json)."""
    if embedding not in ("pca", "tsne"):
        raise InputError(f"embedding must be pca or tsne, got {embedding!r}")
    runs = [load_run(p, truth) for p in paths]
    seen: dict[str, int] = {}
    for r in runs:  # unique names for the figure files
        seen[r.name] = seen.get(r.name, 0) + 1
        if seen[r.name] > 1:
            r.name = f"{r.name}-{seen[r.name]}"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "summary": [summary(r) for r in runs],
        "per_class": {r.name: per_class(r) for r in runs},
    }
    figs, notes = _figures(runs, out, embedding)
    md = ["# deeplabelprop report", "", "## Final metrics", "", *_table(tables["summary"]), ""]
    for r in runs:
        md += [f"## {r.name}: per class", "", *_table(tables["per_class"][r.name]), ""]
    md += ["## Figures", ""]
    for title, path in figs:
        md += [f"### {title}", "", f"![{title}]({path.name})", ""]
    if notes:
        md += ["## Not drawn", "", *[f"- {n}" for n in notes], ""]
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text("\n".join(md))
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(_html(md, {p.name: p for _, p in figs}))
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(tables, indent=1))
    return tables


def _html(md: list[str], images: dict[str, Path]) -> str:
    """The Markdown lines as a self-contained page: headings, tables, embedded PNGs, lists."""
    body, in_table = [], False
    for line in md:
        if line.startswith("|") and not line.startswith("|---"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            tag = "th" if not in_table else "td"
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
            continue
        if line.startswith("|---"):
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("!["):
            name = line[line.index("(") + 1 : -1]
            data = base64.b64encode(images[name].read_bytes()).decode()
            body.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
        elif line.startswith("- "):
            body.append(f"<p>• {html.escape(line[2:])}</p>")
    if in_table:
        body.append("</table>")
    style = (
        "body{font-family:sans-serif;max-width:980px;margin:2em auto}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}img{max-width:100%}"
    )
    return f"<!doctype html><html><head><meta charset='utf-8'><title>deeplabelprop report</title><style>{style}</style></head><body>{''.join(body)}</body></html>"
