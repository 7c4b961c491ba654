"""Recipes by name: ``deeplabelprop run CONFIG`` reads ``recipe = "..."`` and runs it.

A recipe is one module: a config dataclass (settings with their ranges) and a run function,
registered with :func:`register_recipe`; this package imports every module of its folder, so
adding a recipe is its file, a config and a test.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import apply_overrides, from_dict, read_toml, validate
from ..errors import InputError
from .fast_dev_run import fast_dev_run as fast_dev_transform


@dataclass(frozen=True)
class Recipe:
    """``run(config, out_dir, *, progress, fast_dev_run) -> results``; ``check(config)`` raises
    :class:`InputError` for settings that cannot work, before anything is written."""

    name: str
    config: type
    run: Callable
    check: Callable | None = None


RECIPES: dict[str, Recipe] = {}


def register_recipe(name: str, config: type, *, check: Callable | None = None):
    """Decorator on a recipe's run function."""

    def decorate(run):
        RECIPES[name] = Recipe(name, config, run, check)
        return run

    return decorate


def discover() -> None:
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{__package__}.{module.name}")


def get_recipe(name: str | None, source: str = "the config") -> Recipe:
    if name not in RECIPES:
        raise InputError(
            f"{source}: set recipe = one of {', '.join(sorted(RECIPES))} (got {name!r})"
        )
    return RECIPES[name]


def build_config(recipe: Recipe, data: dict, overrides=None, *, fast_dev_run: bool = False):
    """The recipe's typed config from a table and ``key=value`` overrides, transformed for a
    fast dev run, and checked (ranges, then the recipe's own checks)."""
    config = from_dict(recipe.config, apply_overrides(data, overrides))
    if fast_dev_run:
        config = fast_dev_transform(config)
    validate(config)
    if recipe.check is not None:
        recipe.check(config)
    return config


def load_recipe(
    path: str | Path | None,
    overrides: list[str] | None = None,
    *,
    default: str | None = None,
    fast_dev_run: bool = False,
):
    """(recipe, checked config) from a TOML file whose top-level ``recipe`` names the recipe
    (``default`` when it has none, or when there is no file)."""
    data = read_toml(path) if path is not None else {}
    name = data.pop("recipe", default)
    recipe = get_recipe(name, str(path) if path else "the command")
    return recipe, build_config(recipe, data, overrides, fast_dev_run=fast_dev_run)
