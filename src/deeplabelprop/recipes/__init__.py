"""Recipes by name: each composes data, metric, propagation and training; nothing more."""

from .registry import (
    RECIPES,
    Recipe,
    build_config,
    discover,
    get_recipe,
    load_recipe,
    register_recipe,
)

discover()  # every module of this package registers its recipe

from .dmt import DMTConfig, run_dmt  # noqa: E402
from .fewshot import FewShotConfig, run_fewshot  # noqa: E402
from .llp import LLPConfig, run_llp  # noqa: E402
from .lpdssl import LPDSSLConfig, run_lpdssl  # noqa: E402
from .pretrain import PretrainConfig, run_pretrain  # noqa: E402
from .run_dir import read_run  # noqa: E402

__all__ = [
    "RECIPES",
    "DMTConfig",
    "FewShotConfig",
    "LLPConfig",
    "LPDSSLConfig",
    "PretrainConfig",
    "Recipe",
    "build_config",
    "get_recipe",
    "load_recipe",
    "read_run",
    "register_recipe",
    "run_dmt",
    "run_fewshot",
    "run_llp",
    "run_lpdssl",
    "run_pretrain",
]
