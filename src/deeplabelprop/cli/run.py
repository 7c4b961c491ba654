"""``deeplabelprop run CONFIG -o RUN``: run (or resume) a recipe from its TOML config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import distributed
from ..errors import InputError

NAME = "run"
HELP = "run (or resume) a recipe from its TOML config"


def add_overrides(p: argparse.ArgumentParser) -> None:
    """``--set``, ``--fast-dev-run`` and ``-o``: shared by ``run`` and ``pretrain``."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set n_labeled=40 --set finetune.epochs=10",
    )
    p.add_argument(
        "--fast-dev-run",
        action="store_true",
        help="every stage on 512 images for one epoch (a check that the config runs)",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="run directory")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, help="e.g. configs/fashion-mnist/dmt.toml")
    p.add_argument(
        "--labels-from",
        type=Path,
        help="a to_label.csv of `suggest` with its label column filled in (empty: not labeled "
        "yet); its labels go on top of labeled/<class>/ and labels.csv",
    )
    add_overrides(p)


def execute(recipe, config, args: argparse.Namespace) -> int:
    """Run ``recipe`` and print its results."""
    results = recipe.run(
        config, args.output, progress=sys.stderr.isatty(), fast_dev_run=args.fast_dev_run
    )
    shown = ", ".join(f"{k} {v:.4f}" for k, v in results.items() if isinstance(v, float))
    print(f"{recipe.name}: {shown}" if shown else f"{recipe.name}:")
    est = results.get("estimated_accuracy")
    if isinstance(est, dict) and est.get("value") is not None:
        print(
            f"estimated accuracy of the pseudo labels: {100 * est['value']:.1f} % (95 % interval "
            f"{100 * est['low']:.1f}-{100 * est['high']:.1f} %, from {est['held_out']} held-out "
            "labels)"
        )
        if est.get("audit"):
            a = est["audit"]
            print(
                f"audit labels: {a['hits']} of {a['n']} came back right when hidden "
                f"({100 * a['low']:.0f}-{100 * a['high']:.0f} %): an unbiased check of the estimate"
            )
    if "tables" in results:  # fewshot: its tables in the papers' layout
        from ..evaluate.report.document import Heading, Table, to_markdown

        blocks = []
        for title, rows in results["tables"].items():
            blocks += [Heading(title), Table(rows)]
        print(to_markdown(blocks))
    print(f"wrote {args.output}/ (run.json, results.json)")
    return 0


def main(args: argparse.Namespace) -> int:
    from ..recipes import load_recipe

    overrides = list(args.overrides)
    if args.labels_from is not None:
        if not args.labels_from.is_file():
            raise InputError(f"--labels-from {args.labels_from} does not exist")
        overrides.append(f"labels_from={args.labels_from.resolve()}")
    recipe, config = load_recipe(args.config, overrides, fast_dev_run=args.fast_dev_run)
    code = execute(recipe, config, args)
    if args.labels_from is not None and distributed.is_main():
        keep_labels(args.output, args.labels_from)
    return code


def keep_labels(run: Path, filled: Path) -> None:
    """After a run that read a filled ``to_label.csv``: its rows go into the run's label file
    (the one the review page writes), so the next rounds keep them without naming the file
    again, and a later ``--labels-from`` goes on top of them rather than replacing them."""
    from ..review.store import LabelStore

    store = LabelStore(run)
    entry = store.import_to_label(filled).entry
    print(
        f"kept the labels of {filled} in {store.target.csv} ({len(entry['changes'])} new): the "
        "next rounds read them there"
    )
