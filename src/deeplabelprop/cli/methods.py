"""``deeplabelprop methods``: every propagation method with its parameters and defaults."""

from __future__ import annotations

import argparse
import dataclasses

NAME = "methods"
HELP = "list the propagation methods, their parameters and the training weights"


def add_arguments(p: argparse.ArgumentParser) -> None:
    return None


def main(args: argparse.Namespace) -> int:
    from ..propagation import PROPAGATORS, WEIGHTS

    for name in sorted(PROPAGATORS):
        cls = PROPAGATORS[name]
        print(f"{name}: {(cls.__doc__ or '').strip().splitlines()[0]} (weight: {cls.weight})")
        for f in dataclasses.fields(cls):
            print(f"    {f.name} = {f.default!r}")
    print(
        f"training weights ([propagate] weight, propagate --weight): own, {', '.join(sorted(WEIGHTS))}"
    )
    return 0
