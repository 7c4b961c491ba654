"""``deeplabelprop pretrain [CONFIG] -o RUN``: train a metric (the ``pretrain`` recipe)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .run import add_overrides, execute

NAME = "pretrain"
HELP = "train a metric (instance discrimination, NCA, bootstrap); writes encoder.pt, features.npy"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "config",
        type=Path,
        nargs="?",
        help="TOML settings (e.g. configs/fashion-mnist/pretrain.toml)",
    )
    p.add_argument("--dataset", help="shorthand for --set dataset=...")
    p.add_argument("--model", help="shorthand for --set model=...")
    add_overrides(p)


def main(args: argparse.Namespace) -> int:
    from ..recipes import load_recipe

    shorthands = [f"{k}={v}" for k, v in (("dataset", args.dataset), ("model", args.model)) if v]
    recipe, config = load_recipe(
        args.config,
        shorthands + args.overrides,
        default="pretrain",
        fast_dev_run=args.fast_dev_run,
    )
    return execute(recipe, config, args)
