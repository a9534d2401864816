"""Checks of the Python API's arguments: a wrong type is a SpecError that names the call and the
argument, never a stray AttributeError or KeyError from deep inside."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import SpecError


def _kind(value: Any) -> str:
    return type(value).__name__


def arrays_by_name(call: str, what: str, value: Any) -> Mapping:
    """``value`` must be a mapping of names to arrays (``{state_dict name: array}``)."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise SpecError(f"{call}: {what} must be a dict of name -> numpy array, got {_kind(value)}")
    return value


def seed(call: str, value: Any) -> int | None:
    if value is not None and (type(value) is not int or value < 0):
        raise SpecError(f"{call}: seed must be a non-negative int or None, got {value!r}")
    return value


def choice(call: str, what: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise SpecError(f"{call}: {what} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def some(names: Any, n: int = 6) -> str:
    """The first ``n`` of ``names``, comma-separated, with ``...`` when there are more."""
    names = list(names)
    return ", ".join(map(str, names[:n])) + (", ..." if len(names) > n else "")


def names_of(call: str, what: str, value: Any, known: Mapping | set) -> list[str]:
    """A list of names, each one of ``known``."""
    if isinstance(value, str) or not isinstance(value, (list, tuple, set)) or \
            not all(isinstance(v, str) for v in value):
        raise SpecError(f"{call}: {what} must be a list of names, got {value!r}")
    unknown = [v for v in value if v not in known]
    if unknown:
        raise SpecError(f"{call}: {what} names {unknown[0]!r}, which the model does not have ({some(known)})")
    return list(value)


def name(call: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SpecError(f"{call}: expected a name (a string), got {_kind(value)} {value!r}")
    return value


def path(call: str, value: Any) -> Path:
    if not isinstance(value, (str, Path)):
        raise SpecError(f"{call}: expected a file path, got {_kind(value)} {value!r}")
    return Path(value)
