"""The propagators by name; the CLI, the estimator and the recipes read their choices here.

A propagator is one file: a dataclass subclassing :class:`~deeplabelprop.propagation.base.Propagator`
with ``name``, ``weight`` (its paper's training weight), ``calibration``, ``constraints``,
``prepare`` and ``solve``, decorated with :func:`register_propagator`. The package imports
every module of its folder, so nothing else needs editing.

:func:`make_propagator` is the one place where parameters are checked and fitted to the data:
a size parameter left at its default (k, η, T) is capped at ``n_samples - 1`` on small data, and
one set explicitly too large is an error that names the limit.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import pkgutil

from .._params import check_params
from ..errors import InputError

logger = logging.getLogger(__name__)

PROPAGATORS: dict[str, type] = {}

# parameters that count points and must stay below the number of samples
SIZE_PARAMETERS = {
    "n_neighbors": "neighbours k",
    "n_components": "eigenvectors η",
    "n_density": "density neighbours T",
}


def register_propagator(cls: type) -> type:
    """Class decorator: register ``cls`` under ``cls.name``."""
    PROPAGATORS[cls.name] = cls
    return cls


def discover() -> None:
    """Import every module of this package, so that each registers its propagator."""
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{__package__}.{module.name}")


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


def methods_taking(parameter: str) -> list[str]:
    """The registered methods that take ``parameter``."""
    return sorted(
        m
        for m, cls in PROPAGATORS.items()
        if parameter in {f.name for f in dataclasses.fields(cls)}
    )


def fit_to_size(name: str, params: dict, n_samples: int) -> dict:
    """``params`` with each size parameter left at its default capped at ``n_samples - 1``; a
    size parameter given explicitly must already be smaller than ``n_samples``."""
    defaults = {f.name: f.default for f in dataclasses.fields(get_propagator_class(name))}
    out = dict(params)
    for key, what in SIZE_PARAMETERS.items():
        if key not in defaults:
            continue
        if key in params:
            value = params[key]
            if isinstance(value, int) and not isinstance(value, bool) and value >= n_samples:
                raise InputError(
                    f"{key}={value} ({what}) must be smaller than the number of samples "
                    f"({n_samples}); use at most {n_samples - 1}"
                )
        elif isinstance(defaults[key], int) and defaults[key] >= n_samples:
            out[key] = max(1, n_samples - 1)
            _say_once(
                f"{name}: {key}={defaults[key]} (the default) capped at {out[key]} for "
                f"{n_samples} samples"
            )
    return out


_SAID: set[str] = set()


def _say_once(note: str) -> None:
    """Log ``note`` the first time only (few-shot episodes would repeat it hundreds of times)."""
    if note not in _SAID:
        _SAID.add(note)
        logger.info("%s", note)


def check_method_params(name: str, params: dict) -> None:
    """Every parameter in ``params`` is one that method ``name`` takes, with a valid value:
    checked without building the propagator (a size parameter is judged against the data later)."""
    cls = get_propagator_class(name)
    known = set(parameter_names(name))
    unknown = sorted(set(params) - known)
    if unknown:
        takers = methods_taking(unknown[0])
        hint = f" ({unknown[0]} is taken by {', '.join(takers)})" if takers else ""
        raise InputError(
            f"method {name!r} does not take {', '.join(unknown)}{hint}; its parameters are "
            f"{', '.join(sorted(known))}"
        )
    for key, value in params.items():
        if key in cls.constraints:
            cls.constraints[key].check(key, value)


def make_propagator(name: str, n_samples: int | None = None, **params):
    """Build propagator ``name`` with ``params``, checked now (not when it first runs).

    A parameter the method does not take is an error, never ignored. With ``n_samples`` the
    size parameters are fitted to the data (:func:`fit_to_size`).
    """
    cls = get_propagator_class(name)
    check_method_params(name, params)
    if n_samples is not None:
        params = fit_to_size(name, params, n_samples)
    propagator = cls(**params)
    check_params(propagator, cls.constraints)
    return propagator
