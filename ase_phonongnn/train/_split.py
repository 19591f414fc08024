"""Train/validation/test splits."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms

from ase_phonongnn import keys
from ase_phonongnn.store import content_hash


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


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Return (train, validation, test) fractions as floats, or raise ValueError."""
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or min(values) < 0 or values[0] <= 0:
        raise ValueError(
            "fractions must be three non-negative numbers (train, validation, "
            f"test) with a positive train fraction (got {tuple(fractions)})"
        )
    if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions must sum to 1 (got {tuple(fractions)})")
    return values


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


def _bucket(atoms: Atoms) -> int:
    digest = atoms.info.get(keys.CONTENT_HASH) or content_hash(atoms)
    return int(digest[:8], 16) % 100


def hash_split(
    structures: Sequence[Atoms], fractions: Sequence[float] = (0.7, 0.15, 0.15)
) -> Split:
    """Split structures by their content hash, stably as a dataset grows.

    Each structure falls in one of 100 buckets, the first eight hex digits
    of its content hash (``atoms.info["content_hash"]`` as the store gives
    it, else :func:`ase_phonongnn.store.content_hash`) modulo 100. The
    lowest ``100 * fractions[2]`` buckets are the test set, the next
    ``100 * fractions[1]`` the validation set, the rest the training set.
    A structure's set depends on nothing but its own content: labelling
    more snapshots never moves one from test to training, so test scores
    from a grown store stay held out.

    Parameters
    ----------
    structures
        The structures to split.
    fractions
        Training, validation and test fractions, rounded to whole percent.

    Returns
    -------
    Split
        Indices into ``structures``; the realised fractions follow the
        hashes, not exactly ``fractions``.
    """
    _, f_val, f_test = check_fractions(fractions)
    test_end = round(100 * f_test)
    validation_end = test_end + round(100 * f_val)
    buckets = np.array([_bucket(atoms) for atoms in structures], dtype=int)
    return Split(
        train=tuple(np.flatnonzero(buckets >= validation_end).tolist()),
        validation=tuple(
            np.flatnonzero((buckets >= test_end) & (buckets < validation_end)).tolist()
        ),
        test=tuple(np.flatnonzero(buckets < test_end).tolist()),
    )
