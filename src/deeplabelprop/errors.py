"""Exceptions raised for bad input.

Every error a user can cause by passing the wrong data is an :class:`InputError`. Its
message names the problem and the fix in one line; the CLI prints it and exits with code 2.
"""

from __future__ import annotations


class InputError(ValueError):
    """Input data or parameters that cannot be used (the message says why and how to fix)."""


class DataWarning(UserWarning):
    """Input that runs but gives a poor or degenerate answer (one class labeled, identical
    features, a class no point is assigned to, a kNN search that misses neighbours); the message
    says what it means and what to do."""


class MissingSplit(InputError):
    """The data set has no such split (e.g. no test folder). Readers raise it and the problem
    loader catches it: it lives below both."""
