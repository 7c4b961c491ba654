"""How every kind of part is registered: a decorator, where the part is defined, fills the
kind's table (``name -> object``)."""

from __future__ import annotations

from collections.abc import Callable


def registrar(table: dict, kind: str) -> Callable[[str], Callable]:
    """``register = registrar(TABLE, "backbone")``, then ``@register("name")`` puts the decorated
    object in ``TABLE`` under ``name`` (a name registered twice is an error)."""

    def register(name: str) -> Callable:
        def decorate(obj):
            if name in table:
                raise ValueError(f"{kind} {name!r} is registered twice")
            table[name] = obj
            return obj

        return decorate

    return register
