"""Train/validation/test splits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Split:
    """Indices of the training, validation and test structures.

    Parameters
    ----------
    train, validation, test
        Disjoint indices into the list of structures; train and validation
        must not be empty.
    """

    train: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("train", "validation", "test"):
            values = tuple(int(i) for i in getattr(self, name))
            if any(i < 0 for i in values):
                raise ValueError(f"split {name} has negative indices")
            object.__setattr__(self, name, values)
        if not self.train or not self.validation:
            raise ValueError(
                f"a split needs training and validation structures (got "
                f"{len(self.train)} and {len(self.validation)})"
            )
        every = self.train + self.validation + self.test
        if len(set(every)) != len(every):
            raise ValueError("split sets overlap or repeat indices")

    def check(self, n_structures: int) -> None:
        """Raise ``ValueError`` if an index is out of range for n structures."""
        top = max(self.train + self.validation + self.test)
        if top >= n_structures:
            raise ValueError(
                f"split index {top} is out of range for {n_structures} structures"
            )

    def to_dict(self) -> dict[str, list[int]]:
        """Return a JSON-ready dict."""
        return {
            "train": list(self.train),
            "validation": list(self.validation),
            "test": list(self.test),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Split:
        """Build from ``{"train": [...], "validation": [...], "test": [...]}``."""
        unknown = sorted(set(data) - {"train", "validation", "test"})
        if unknown:
            raise ValueError(
                f"unknown split key(s) {', '.join(unknown)}; "
                "valid: train, validation, test"
            )
        return cls(
            tuple(data["train"]), tuple(data["validation"]), tuple(data.get("test", ()))
        )


def random_split(
    n_structures: int,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> Split:
    """Return a seeded random split of ``n_structures`` by fractions.

    The validation and test sizes are rounded; the training set takes the
    rest. The same (n, fractions, seed) always gives the same split.
    """
    if n_structures < 3:
        raise ValueError(
            f"need at least 3 structures for a train/validation/test split "
            f"(got {n_structures})"
        )
    _, f_val, f_test = fractions
    n_test = round(f_test * n_structures)
    n_val = max(1, round(f_val * n_structures))
    n_train = n_structures - n_val - n_test
    if n_train < 1:
        raise ValueError(
            f"fractions {tuple(fractions)} leave no training structures out of "
            f"{n_structures}"
        )
    order = np.random.default_rng(seed).permutation(n_structures).tolist()
    return Split(
        tuple(order[:n_train]),
        tuple(order[n_train : n_train + n_val]),
        tuple(order[n_train + n_val :]),
    )
