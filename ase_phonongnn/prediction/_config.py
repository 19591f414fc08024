"""PredictionConfig: how structures are evaluated, for every prediction entry point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ase_phonongnn._config import config_from_dict


def check_batch_size(batch_size: int | None) -> int | None:
    """Return ``batch_size`` as an int (or None), refusing anything else."""
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(
            f"batch_size must be an integer or None (got {batch_size!r}); None "
            "batches by atoms"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
    return int(batch_size)


@dataclass(frozen=True)
class PredictionConfig:
    """How the prediction entry points evaluate structures.

    :func:`predict`, :func:`iter_predictions`, :func:`write_predictions` and
    :func:`thermal_averages` each take ``config=PredictionConfig(...)`` or
    the same settings as keyword arguments, not both.

    Parameters
    ----------
    batch_size
        Structures per forward pass; None: by atoms
        (:data:`~ase_phonongnn.prediction.ATOMS_PER_BATCH`).
    device
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    properties
        Properties to predict (one name or several); None for all that the
        model gives.
    dtype
        ``"float32"`` or ``"float64"``, the precision the loaded models
        compute in; None keeps each model's own.
    progress
        Show a progress bar.
    compile_messages
        Sum the PaiNN messages of ``ours`` members with compiled kernels
        (:class:`~ase_phonongnn.prediction.Committee`'s ``compile_messages``):
        the same results to rounding, about 1.7× the throughput of the
        shipped committee on a CPU, after a first evaluation that compiles
        for tens of seconds; worth it for long trajectories. Default False.

    Examples
    --------
    >>> from ase_phonongnn.prediction import PredictionConfig
    >>> config = PredictionConfig(batch_size=64, properties=["band_gap"])
    >>> config.to_dict()["properties"]
    ['band_gap']
    """

    batch_size: int | None = None
    device: str | torch.device = "auto"
    properties: tuple[str, ...] | None = None
    dtype: str | torch.dtype | None = None
    progress: bool = False
    compile_messages: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "batch_size", check_batch_size(self.batch_size))
        if isinstance(self.properties, str):  # one name
            object.__setattr__(self, "properties", (self.properties,))
        elif self.properties is not None:
            object.__setattr__(self, "properties", tuple(self.properties))
        if not isinstance(self.device, str | torch.device):
            raise TypeError(
                f"device must be a string such as 'cpu' (got {self.device!r})"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (device and dtype as strings)."""
        return {
            "batch_size": self.batch_size,
            "device": str(self.device),
            "properties": None if self.properties is None else list(self.properties),
            "dtype": None if self.dtype is None else str(self.dtype).split(".")[-1],
            "progress": self.progress,
            "compile_messages": self.compile_messages,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredictionConfig:
        """Build from :meth:`to_dict` output; unknown keys are an error."""
        return config_from_dict(cls, data)
