"""One value against a settings field's type hint: the spellings YAML, command-line flags and notebook
parameters produce ("2e-4", "true", "a,b"), and null.

Null has one spelling wherever only text can be given: `null` (also `none`, `~` or an empty string), except
where the word is one of the field's own choices (`report_to: none`).
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

NULLS = ("null", "none", "~", "")


def is_null(value: Any) -> bool:
    return value is None or isinstance(value, str) and value.strip().lower() in NULLS


def _literal(hint: Any, value: Any) -> bool:
    """Whether `value` is one of the hint's own words (`report_to: none` is a choice, not null)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return any(typing.get_origin(o) is Literal and value in typing.get_args(o) for o in options)


def _coerce(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if is_null(value) and type(None) in args and not _literal(hint, value):
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(option, value)
            except (TypeError, ValueError):
                continue
        raise ValueError
    if origin is Literal:
        if value in args:
            return value
        raise ValueError
    if origin is list:
        if isinstance(value, str):  # "a,b" from a command line
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise TypeError
        return [_coerce(args[0], v) for v in value]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        raise TypeError
    if hint is int:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError
    if hint is float:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):  # YAML reads "2e-4" (no dot) as a string
            return float(value)
        raise TypeError
    if hint is str:
        if isinstance(value, str):
            return value
        raise TypeError
    raise TypeError(f"unsupported type {hint}")


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return " or ".join(repr(a) for a in args)
    if origin is list:
        return f"a list of {_describe(args[0])}"
    if hint is type(None):
        return "null"
    return {bool: "true/false", int: "an integer", float: "a number", str: "text"}.get(hint, str(hint))
