"""Recipes by name: each composes data, metric, propagation and training; nothing more."""

from __future__ import annotations

from pathlib import Path

from ..config import apply_overrides, from_dict, read_toml
from ..errors import InputError
from .dmt import DMTConfig, run_dmt
from .llp import LLPConfig, run_llp
from .lpdssl import LPDSSLConfig, run_lpdssl

RECIPES = {
    "dmt": (DMTConfig, run_dmt),
    "lpdssl": (LPDSSLConfig, run_lpdssl),
    "llp": (LLPConfig, run_llp),
}


def load_recipe(path: str | Path, overrides: list[str] | None = None):
    """(name, typed config, runner) from a TOML file whose top-level ``recipe`` names the recipe."""
    data = read_toml(path)
    name = data.pop("recipe", None)
    if name not in RECIPES:
        raise InputError(f"{path}: set recipe = one of {', '.join(sorted(RECIPES))} (got {name!r})")
    cls, runner = RECIPES[name]
    return name, from_dict(cls, apply_overrides(data, overrides)), runner


__all__ = [
    "RECIPES",
    "DMTConfig",
    "LLPConfig",
    "LPDSSLConfig",
    "load_recipe",
    "run_dmt",
    "run_llp",
    "run_lpdssl",
]
