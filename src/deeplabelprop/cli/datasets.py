"""``deeplabelprop datasets``: every registered data set."""

from __future__ import annotations

import argparse

NAME = "datasets"
HELP = "list the registered data sets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    return None


def main(args: argparse.Namespace) -> int:
    from ..data import datasets

    entries = sorted(datasets().values(), key=lambda e: e.usage)
    width = max(len(e.usage) for e in entries)
    for e in entries:
        print(f"{e.usage:<{width}}  {e.description}")
    return 0
