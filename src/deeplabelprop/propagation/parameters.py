"""The one table of propagator parameters that users set by a short name.

The CLI's flags (``--k``, ``--eta``, ...) and the estimator's keyword arguments are read from
it; any other parameter of a method is passed by its own name (``--param KEY=VALUE``,
``method_params``, a ``[propagate]`` key).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Parameter:
    """A propagator field (``name``) with its command-line flag, type and help."""

    name: str
    flag: str
    type: type
    help: str
    choices: tuple | None = None


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("n_neighbors", "k", int, "neighbours in the kNN graph (n_neighbors)"),
    Parameter("alpha", "alpha", float, "diffusion / spectral filter α in [0, 1)"),
    Parameter("gamma", "gamma", float, "power affinity exponent γ"),
    Parameter("tau", "tau", float, "temperature τ of exp(s/τ)"),
    Parameter("n_components", "eta", int, "spectral: number of eigenvectors η"),
    Parameter("max_iter", "max-iter", int, "solver iterations"),
    Parameter("tol", "tol", float, "solver tolerance"),
    Parameter("backend", "backend", str, "kNN backend", ("auto", "faiss", "torch")),
    Parameter("device", "device", str, "torch device (default: cuda if available, else cpu)"),
)

# the pipeline's seed is every method's ``random_state`` unless the parameters name one
SEED_PARAMETER = "random_state"
