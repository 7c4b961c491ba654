"""Parameter constraints declared as data and checked when work starts (not in constructors)."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

from .errors import InputError


@dataclass(frozen=True)
class Interval:
    """A number in [low, high] (open at an end where ``closed`` says so); ``integer`` for ints."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"
    integer: bool = False
    allow_none: bool = False

    def check(self, name: str, value: object) -> None:
        if value is None and self.allow_none:
            return
        kind = Integral if self.integer else Real
        if isinstance(value, bool) or not isinstance(value, kind):
            raise InputError(
                f"{name} must be {'an integer' if self.integer else 'a number'}, got {value!r}"
            )
        lo_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        hi_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        if not (lo_ok and hi_ok):
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            lo = "-inf" if self.low is None else self.low
            hi = "inf" if self.high is None else self.high
            raise InputError(
                f"{name}={value!r} is out of range; it must be in {left}{lo}, {hi}{right}"
            )


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple

    def check(self, name: str, value: object) -> None:
        if value not in self.values:
            raise InputError(
                f"{name}={value!r} is not valid; choose one of {', '.join(map(repr, self.values))}"
            )


def check_params(obj: object, constraints: dict) -> None:
    """Check every attribute named in ``constraints`` on ``obj``."""
    for name, rule in constraints.items():
        rule.check(name, getattr(obj, name))
