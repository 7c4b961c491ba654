"""Dataclass configs loaded from TOML, with typed ``--set key=value`` overrides, validated once.

Unknown keys are an error (nanoGPT's configurator, made safe): a typo never silently runs the
default. Nested dataclasses are addressed with dots (``--set train.lr=0.1``); a table given in
TOML updates its field's default (a recipe's own defaults for that section), it does not replace
it. Each setting's valid range is declared beside its default with :func:`setting` and checked
by :func:`validate` before any work starts. A section class may read its table itself
(``from_config(data, prefix, default)``) and flatten itself (``to_config()``), as the
``[propagate]`` section does to pass a method's parameters straight through.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from ._params import Interval, Options
from .errors import InputError

T = TypeVar("T")


def setting(
    default: Any = dataclasses.MISSING, check: Interval | Options | None = None, *, factory=None
):
    """A dataclass field with its valid range (or choices) declared beside its default."""
    metadata = {"check": check} if check is not None else {}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def validate(config: Any, prefix: str = "") -> None:
    """Check every field that declares a range or choices (recursively): a value out of range is
    an :class:`InputError` naming the setting, e.g. ``finetune.lr=-5 is out of range``."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        check = f.metadata.get("check")
        if check is not None:
            check.check(prefix + f.name, value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            inner = getattr(value, "validate", None)
            if inner is not None:
                inner(f"{prefix}{f.name}.")
            else:
                validate(value, f"{prefix}{f.name}.")


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """``value`` converted to ``annotation`` (int, float, bool, str, Optional/Union of those, tuples)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in options:
                return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[0] if errors else f"{key}: cannot use {value!r}")
    if origin in (tuple, list):
        items = (
            value
            if isinstance(value, (list, tuple))
            else [v for v in str(value).split(",") if v.strip()]
        )
        args = typing.get_args(annotation)
        inner = args[0] if args else str
        return origin(_coerce(v, inner, key) for v in items)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise InputError(f"{key} must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise InputError(f"{key} must be an integer, got {value!r}")
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{key} must be an integer, got {value!r}") from None
        if not as_float.is_integer():
            raise InputError(f"{key} must be an integer, got {value!r}")
        return int(as_float)
    if annotation is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputError(f"{key} must be a number, got {value!r}") from None
    if annotation is str:
        return str(value)
    if annotation is dict:
        if not isinstance(value, dict):
            raise InputError(f"{key} must be a table of settings, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise InputError(f"{key} must be a table of settings, got {value!r}")
        return from_dict(annotation, value, prefix=f"{key}.")
    raise InputError(f"{key}: unsupported setting type {annotation!r}")


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def from_dict(cls: type[T], data: dict, *, prefix: str = "", default: Any = None) -> T:
    """An instance of dataclass ``cls`` from ``data``; unknown keys and bad values are errors.

    A nested table updates the field's default (``default`` for ``cls`` itself)."""
    reader = getattr(cls, "from_config", None)
    if reader is not None:
        return reader(data, prefix, default)
    types_ = _field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise InputError(
            f"unknown setting(s) {', '.join(prefix + k for k in unknown)}; known: {', '.join(sorted(types_))}"
        )
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, annotation = data[f.name], types_[f.name]
        base = getattr(default, f.name) if default is not None else _default(f)
        if dataclasses.is_dataclass(annotation) and dataclasses.is_dataclass(base):
            if not isinstance(value, dict):
                raise InputError(f"{prefix}{f.name} must be a table of settings, got {value!r}")
            values[f.name] = from_dict(annotation, value, prefix=f"{prefix}{f.name}.", default=base)
        else:
            values[f.name] = _coerce(value, annotation, prefix + f.name)
    if default is not None:
        return dataclasses.replace(default, **values)
    return cls(**values)


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """``value`` (from TOML or a ``--set`` string) converted to the type ``annotation``."""
    return _coerce(value, annotation, key)


def read_toml(path: str | Path) -> dict:
    """The tables of a TOML file; a missing or malformed file is an InputError."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from exc


def apply_overrides(data: dict, overrides: list[str] | None) -> dict:
    """``data`` with each ``a.b=value`` of ``overrides`` set (values stay text until typed)."""
    for item in overrides or []:
        if "=" not in item:
            raise InputError(f"--set expects key=value, got {item!r}")
        key, value = (part.strip() for part in item.split("=", 1))
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise InputError(f"--set {key}: {p} is not a table of settings")
        node[leaf] = value
    return data


def load_config(
    cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None
) -> T:
    """``cls`` from a TOML file (optional) with ``key=value`` overrides applied on top."""
    return from_dict(cls, apply_overrides(read_toml(path) if path is not None else {}, overrides))


def to_dict(config: Any) -> dict:
    """Plain dict of the settings (for run.json and checkpoints), sections flattened by their
    ``to_config`` when they have one."""
    flat = getattr(config, "to_config", None)
    if flat is not None:
        return flat()
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, default=str))


def differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two settings dicts, as ``key (old → new)``."""
    saved, current = plain(saved), plain(current)
    out = []
    for k in sorted(set(saved) | set(current)):
        a, b = saved.get(k), current.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k} ({a!r} → {b!r})")
    return out
