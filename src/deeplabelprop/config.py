"""Dataclass configs loaded from TOML, with typed ``--set key=value`` overrides.

Unknown keys are an error (nanoGPT's configurator, made safe): a typo never silently runs the
default. Nested dataclasses are addressed with dots (``--set train.lr=0.1``).
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import InputError

T = TypeVar("T")


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
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise InputError(f"{key} must be a table of settings, got {value!r}")
        return from_dict(annotation, value, prefix=f"{key}.")
    raise InputError(f"{key}: unsupported setting type {annotation!r}")


def from_dict(cls: type[T], data: dict, *, prefix: str = "") -> T:
    """An instance of dataclass ``cls`` from ``data``; unknown keys and bad values are errors."""
    types_ = _field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise InputError(
            f"unknown setting(s) {', '.join(prefix + k for k in unknown)}; known: {', '.join(sorted(types_))}"
        )
    return cls(**{k: _coerce(v, types_[k], prefix + k) for k, v in data.items()})


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
    """Plain dict (for config.json and checkpoints)."""
    return dataclasses.asdict(config)
