"""The propagators by name; the CLI and the estimator read their choices from here."""

from __future__ import annotations

import dataclasses

from ..errors import InputError
from .diffusion import Diffusion
from .knn_vote import KnnVote
from .local import LocalPropagation
from .spectral import Spectral

PROPAGATORS = {cls.name: cls for cls in (Diffusion, KnnVote, LocalPropagation, Spectral)}


def parameter_names(name: str) -> list[str]:
    """The constructor parameters of propagator ``name``."""
    return [f.name for f in dataclasses.fields(get_propagator_class(name))]


def get_propagator_class(name: str) -> type:
    try:
        return PROPAGATORS[name]
    except KeyError:
        raise InputError(
            f"unknown method {name!r}; choose one of {', '.join(sorted(PROPAGATORS))}"
        ) from None


def make_propagator(name: str, **params):
    """Build propagator ``name``; a parameter it does not take is an error, not ignored."""
    cls = get_propagator_class(name)
    known = set(parameter_names(name))
    unknown = sorted(set(params) - known)
    if unknown:
        raise InputError(
            f"method {name!r} does not take {', '.join(unknown)}; its parameters are {', '.join(sorted(known))}"
        )
    return cls(**params)
