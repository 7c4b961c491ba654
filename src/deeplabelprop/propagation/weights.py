"""Per-example training weights of pseudo labels, by name: the papers' choices.

Each propagator's own weight is the one its paper uses (``Propagator.weight``); a recipe may
choose another by name (``[propagate] weight = ...``). Every weight is 1 on labeled points.

=================  ==========================================================================
``margin``         DMT eq. (8)-(9): top-1 minus top-2 of softmax(p / τ), τ = 1/σ, σ = 40
``entropy``        Iscen eq. (11): ω = 1 - H(p) / log c, max-normalised over the unlabeled points
``top-probability`` LLP eq. (6): c = p_y, the probability of the pseudo label
``uniform``        1 everywhere (no weighting)
=================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._registry import registrar
from ..errors import InputError
from .confidence import DMT_SIGMA, entropy_weight, margin_confidence, top_probability

WEIGHTS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {}


# @register_weight(name) on weight(probabilities, temperature) -> (n,)
register_weight = registrar(WEIGHTS, "weight")


@register_weight("margin")
def _margin(p: np.ndarray, temperature: float) -> np.ndarray:
    return margin_confidence(p, temperature)


@register_weight("entropy")
def _entropy(p: np.ndarray, temperature: float) -> np.ndarray:
    return entropy_weight(p)


@register_weight("top-probability")
def _top(p: np.ndarray, temperature: float) -> np.ndarray:
    return top_probability(p)


@register_weight("uniform")
def _uniform(p: np.ndarray, temperature: float) -> np.ndarray:
    return np.ones(p.shape[0])


def check_weight_name(name: str, *, allow_own: bool = False, setting: str = "weight") -> None:
    """An unknown weight name is an error naming the choices."""
    choices = sorted(WEIGHTS) + (["own"] if allow_own else [])
    if name not in choices:
        raise InputError(f"{setting}={name!r} is not a weight; choose one of {', '.join(choices)}")


def example_weights(
    name: str,
    probabilities: np.ndarray,
    labeled: np.ndarray,
    *,
    temperature: float = 1.0 / DMT_SIGMA,
) -> np.ndarray:
    """Weight ``name`` of every point (n,) from its class probabilities (n, c); 1 where
    ``labeled``. Computed on the unlabeled rows only (the entropy weight's max-normalisation is
    over them, as in Iscen's code)."""
    check_weight_name(name)
    p = np.asarray(probabilities, dtype=np.float64)
    w = np.ones(p.shape[0])
    unlabeled = ~np.asarray(labeled, dtype=bool)
    if unlabeled.any():
        w[unlabeled] = np.clip(WEIGHTS[name](p[unlabeled], temperature), 0.0, 1.0)
    return w
