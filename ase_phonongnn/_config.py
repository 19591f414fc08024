"""Validation shared by the frozen configuration dataclasses of every stage."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def config_from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build the dataclass ``cls`` from a dict, refusing unknown keys.

    Lists become tuples, so that a config written as JSON or YAML reads back
    equal to the original.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{cls.__name__} needs a mapping (got {type(data).__name__})")
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} key(s) {', '.join(unknown)}; "
            f"valid: {', '.join(names)}"
        )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


def check_integer(value: Any, name: str, minimum: int) -> None:
    """Refuse anything but an integer >= ``minimum`` (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} (got {value!r})")


def check_number(value: Any, name: str, positive: bool = False) -> None:
    """Refuse anything but a finite non-negative (or positive) number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number (got {value!r})")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be {kind} and finite (got {value!r})")


def _is_default(value: Any, default: Any) -> bool:
    if default is None or value is None:
        return value is default
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # e.g. arrays, which compare elementwise
        return False


def keyword_config(
    cls: type[T],
    config: T | None,
    keywords: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> T:
    """Return ``config``, or the ``cls`` built from a function's keyword arguments.

    Functions at the API boundaries take their settings either as one config
    object or as keyword arguments (which stay for backwards compatibility).
    Both at once is ambiguous: a keyword that is not at its default beside a
    ``config`` is refused.

    Parameters
    ----------
    cls
        The config dataclass.
    config
        The config the caller gave, or None.
    keywords
        The function's keyword arguments that ``cls`` holds, by field name.
    defaults
        The functions' defaults of ``keywords`` (default: the fields'
        defaults).
    """
    if config is None:
        return cls(**keywords)
    if not isinstance(config, cls):
        raise TypeError(
            f"config must be a {cls.__name__} (got {type(config).__name__})"
        )
    if defaults is None:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        defaults = {f.name: f.default for f in fields}
    both = [k for k, v in keywords.items() if not _is_default(v, defaults[k])]
    if both:
        raise ValueError(
            f"{', '.join(both)} given both in config and as keyword arguments; "
            f"set {'them' if len(both) > 1 else 'it'} in the {cls.__name__} only"
        )
    return config
