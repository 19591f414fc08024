"""TrainConfig: everything about a training run except the model itself."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from ase import Atoms

from ase_phonongnn._config import check_integer, check_number, config_from_dict
from ase_phonongnn.train._split import Split, check_fractions, hash_split, random_split

Dtype = Literal["float32", "float64"]
SplitBy = Literal["random", "hash"]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run.

    Parameters
    ----------
    seed
        Seed of the split, the weight initialisation, batch order and dropout.
    fractions
        Train, validation and test fractions of the split (PAPER.md:
        70/15/15); ignored when a split is given.
    split_by
        ``"random"``: a random split seeded by ``seed``. ``"hash"``: each
        structure's set follows its content hash (:func:`hash_split`), so
        a store that grows keeps its test set held out.
    batch_size
        Structures per optimisation step.
    learning_rate
        Initial Adam learning rate.
    weight_decay
        Adam L2 penalty.
    max_epochs
        Upper bound on the number of epochs.
    patience
        Early stopping: stop after this many epochs without a lower validation
        loss; the weights of the best epoch are kept.
    lr_decay_factor, lr_decay_patience
        Multiply the learning rate by the factor after this many epochs
        without improvement (``ReduceLROnPlateau``); patience 0 or factor 1
        turns it off.
    force_weight, stress_weight
        Weights of the force and stress terms of the loss, used when the model
        is a potential and the training data have forces / stress (0 turns
        them off). Targets have weight 1 each.
    balance_by
        An ``atoms.info`` key (e.g. ``"method"``: phonon-informed
        ``normal-mode`` or ``random`` snapshots) whose values group the
        structures. Each group's target, force and stress errors are then
        scaled by that group's own training spread instead of the pooled
        one, so a group that varies little (phonon-informed snapshots next
        to large random displacements) is fitted to its own resolution
        rather than the wide group's. None (default) pools all structures.
    dtype
        ``"float32"`` or ``"float64"``.
    device
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when present).
    max_time
        Wall-clock budget in s, checked after every epoch; None for none.
    progress
        Show tqdm progress bars.
    """

    seed: int = 0
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    split_by: SplitBy = "random"
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    max_epochs: int = 500
    patience: int = 50
    lr_decay_factor: float = 0.5
    lr_decay_patience: int = 15
    force_weight: float = 1.0
    stress_weight: float = 1.0
    balance_by: str | None = None
    dtype: Dtype = "float32"
    device: str = "cpu"
    max_time: float | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        check_integer(self.seed, "seed", minimum=0)
        object.__setattr__(self, "fractions", check_fractions(self.fractions))
        if self.split_by not in ("random", "hash"):
            raise ValueError(f"split_by must be random or hash (got {self.split_by!r})")
        check_integer(self.batch_size, "batch_size", minimum=1)
        check_integer(self.max_epochs, "max_epochs", minimum=1)
        check_integer(self.patience, "patience", minimum=1)
        check_integer(self.lr_decay_patience, "lr_decay_patience", minimum=0)
        check_number(self.learning_rate, "learning_rate", positive=True)
        check_number(self.weight_decay, "weight_decay")
        check_number(self.force_weight, "force_weight")
        check_number(self.stress_weight, "stress_weight")
        check_number(self.lr_decay_factor, "lr_decay_factor", positive=True)
        if self.lr_decay_factor > 1:
            raise ValueError(
                f"lr_decay_factor must be in (0, 1] (got {self.lr_decay_factor})"
            )
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64 (got {self.dtype!r})")
        if self.balance_by is not None and (
            not isinstance(self.balance_by, str) or not self.balance_by
        ):
            raise ValueError(
                "balance_by must be an atoms.info key or None "
                f"(got {self.balance_by!r})"
            )
        if self.max_time is not None:
            check_number(self.max_time, "max_time", positive=True)
        if not isinstance(self.device, str) or not (
            self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")
        ):
            raise ValueError(
                f"device must be cpu, cuda, cuda:N or auto (got {self.device!r})"
            )

    def make_split(self, structures: Sequence[Atoms]) -> Split:
        """Return the split of ``structures`` that ``split_by`` names."""
        if self.split_by == "hash":
            return hash_split(structures, self.fractions)
        return random_split(len(structures), self.fractions, self.seed)

    @property
    def torch_dtype(self) -> torch.dtype:
        """The torch dtype of :attr:`dtype`."""
        return torch.float64 if self.dtype == "float64" else torch.float32

    @property
    def torch_device(self) -> torch.device:
        """The device, with ``auto`` resolved."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build from a dict; unknown keys are refused with the valid ones."""
        return config_from_dict(cls, data)

    def replace(self, **changes: Any) -> TrainConfig:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
