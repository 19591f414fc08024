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
