"""LabelConfig: how label_snapshots runs, as one object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ase_phonongnn._config import config_from_dict
from ase_phonongnn.label._pool import check_timeout


@dataclass(frozen=True)
class LabelConfig:
    """Settings of :func:`~ase_phonongnn.label.label_snapshots`.

    ``label_snapshots`` takes ``config=LabelConfig(...)`` or the same
    settings as keyword arguments, not both.

    Parameters
    ----------
    calculator_options
        Keyword arguments for the calculator's factory, e.g.
        ``{"retry": False}`` for GFN2-xTB; recorded with each label.
    include_stress
        Compute stress and hydrostatic stress (needs periodic structures).
    retry_failed
        Label again the snapshots whose labelling failed before.
    max_in_flight
        Most structures submitted to the executor at once.
    progress
        Show a progress bar.
    timeout
        Longest wall time of one calculation in seconds; None: no limit.

    Examples
    --------
    >>> from ase_phonongnn.label import LabelConfig
    >>> LabelConfig(calculator_options={"retry": False}, timeout=600).timeout
    600.0
    """

    calculator_options: Mapping[str, Any] | None = None
    include_stress: bool = True
    retry_failed: bool = False
    max_in_flight: int = 64
    progress: bool = True
    timeout: float | None = None

    def __post_init__(self) -> None:
        options = self.calculator_options
        if options is not None and not isinstance(options, Mapping):
            raise TypeError(
                "calculator_options must be a mapping of keyword arguments, e.g. "
                f"{{'retry': False}} (got {type(options).__name__})"
            )
        in_flight = self.max_in_flight
        if isinstance(in_flight, bool) or not isinstance(in_flight, int):
            raise TypeError(f"max_in_flight must be an integer (got {in_flight!r})")
        if in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1 (got {in_flight})")
        object.__setattr__(self, "timeout", check_timeout(self.timeout))

    def to_dict(self) -> dict[str, Any]:
        """Return a dict of the settings (the options as a plain dict)."""
        options = self.calculator_options
        return {
            "calculator_options": None if options is None else dict(options),
            "include_stress": self.include_stress,
            "retry_failed": self.retry_failed,
            "max_in_flight": self.max_in_flight,
            "progress": self.progress,
            "timeout": self.timeout,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelConfig:
        """Build from :meth:`to_dict` output; unknown keys are an error."""
        return config_from_dict(cls, data)
