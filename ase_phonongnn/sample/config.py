"""Validated configuration of a sampling run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from ase_phonongnn._config import config_from_dict
from ase_phonongnn.sample.modes import ImaginaryPolicy

Method = Literal["paper", "normal-mode", "zg", "random"]
METHODS: Final = ("paper", "normal-mode", "zg", "random")
STATISTICS: Final = ("quantum", "classical")


@dataclass(frozen=True)
class SamplingConfig:
    """How thermal snapshots are drawn.

    Parameters
    ----------
    method
        ``paper`` (eq. 3: u = ε·ζ, ε ~ U[−1, 1]), ``normal-mode`` (correlated
        Gaussian over all commensurate modes), ``zg`` (Zacharias–Giustino
        special displacement) or ``random`` (eq. 2: u = ε·a).
    statistics
        ``quantum`` (Bose–Einstein with zero-point motion) or ``classical``.
    imaginary
        Imaginary-mode policy: ``error``, ``abs``, ``drop`` or ``floor:<THz>``.
    amplitude
        a in Å, for ``random`` only (required there).
    plus_minus
        Return every displacement together with its negative (normal-mode and
        zg), which cancels odd moments exactly.
    min_distance
        Reject snapshots with an interatomic distance below this, in Å.
    max_attempts
        Give up after this many rejected draws per requested snapshot.
    """

    method: Method = "normal-mode"
    statistics: Literal["quantum", "classical"] = "quantum"
    imaginary: ImaginaryPolicy = field(default_factory=ImaginaryPolicy)
    amplitude: float | None = None
    plus_minus: bool = False
    min_distance: float | None = None
    max_attempts: int = 100

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(
                f"method must be one of {', '.join(METHODS)} (got {self.method!r})"
            )
        if self.statistics not in STATISTICS:
            raise ValueError(
                f"statistics must be quantum or classical (got {self.statistics!r})"
            )
        object.__setattr__(self, "imaginary", ImaginaryPolicy.parse(self.imaginary))
        if self.method == "random":
            if self.amplitude is None or not self.amplitude > 0:
                raise ValueError(
                    "amplitude must be a positive displacement in Å for the random "
                    f"method, e.g. amplitude=0.3 (got {self.amplitude})"
                )
        elif self.amplitude is not None:
            raise ValueError(
                f"amplitude is used by the random method only (got method="
                f"{self.method!r}, amplitude={self.amplitude})"
            )
        if self.plus_minus and self.method not in ("normal-mode", "zg"):
            raise ValueError(
                f"plus_minus applies to normal-mode and zg (got {self.method!r})"
            )
        if self.min_distance is not None and not self.min_distance > 0:
            raise ValueError(
                f"min_distance must be positive in Å (got {self.min_distance})"
            )
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 (got {self.max_attempts})")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (the policy as its string)."""
        data = asdict(self)
        data["imaginary"] = str(self.imaginary)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingConfig:
        """Build from :meth:`to_dict` output; unknown keys are an error."""
        return config_from_dict(cls, data)
