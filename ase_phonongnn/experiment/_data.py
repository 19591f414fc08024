"""The datasets of each kind, their fixed test sets, training pools and splits."""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from ase_phonongnn import keys
from ase_phonongnn.errors import UserInputError
from ase_phonongnn.experiment._config import ExperimentConfig
from ase_phonongnn.train import (
    Split,
    dataset_digest,
    load_structures,
    retried_scf,
    structure_labels,
)

_OPENERS: dict[str, Callable[..., Any]] = {
    ".gz": gzip.open,
    ".xz": lzma.open,
    ".bz2": bz2.open,
}
_STORE_SUFFIXES = (".h5", ".hdf5")


@dataclass(frozen=True)
class Dataset:
    """The labelled structures of one kind.

    Attributes
    ----------
    kind
        ``"phonon"``, ``"random"`` or ``"md"``.
    path
        The file read.
    structures
        Labelled structures with a label for the learning-curve target.
    rows
        Row of each structure in its store (its position in an extxyz file).
    counts
        Snapshots per labelling status of the store (``done`` only for
        extxyz), ``unlabelled_target``: done snapshots left out because they
        lack the target label, and ``retried``: those left out because their
        SCF converged only on a damped retry rung.
    digest
        SHA-256 of the structures and labels (:func:`dataset_digest`).
    """

    kind: str
    path: Path
    structures: list[Atoms]
    rows: tuple[int, ...]
    counts: dict[str, int]
    digest: str

    def describe(self) -> str:
        """One line: file, counts per status and what is used."""
        counts = ", ".join(f"{k} {v:,}" for k, v in self.counts.items() if v)
        return f"{self.kind}: {self.path} ({counts}): {len(self.structures):,} used"

    def pinned(self, rows: Sequence[int]) -> Dataset:
        """Return the dataset restricted to the structures at these store rows.

        The store order is kept, so a layout built from the result is the one
        that was built from those structures before the store grew.

        Raises
        ------
        UserInputError
            If a row is no longer among the labelled structures used.
        """
        wanted = set(rows)
        keep = [k for k, row in enumerate(self.rows) if row in wanted]
        missing = wanted - {self.rows[k] for k in keep}
        if missing:
            raise UserInputError(
                f"{len(missing)} {self.kind} structures of the earlier results (store "
                f"rows {sorted(missing)[:5]}...) are no longer labelled in "
                f"{self.path}; pass --fresh to start over, or another --out"
            )
        used = [self.structures[k] for k in keep]
        counts = {**self.counts, "left_out_pinned": len(self.structures) - len(keep)}
        return Dataset(
            self.kind,
            self.path,
            used,
            tuple(self.rows[k] for k in keep),
            counts,
            dataset_digest(used),
        )


def load_dataset(
    kind: str, path: Path, target: str, *, skip_retried: bool = False
) -> Dataset:
    """Read the done snapshots of a store (or an extxyz file) of one kind.

    Structures without a finite ``target`` label, and with ``skip_retried``
    those labelled on a damped SCF retry rung, are left out and counted.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    UserInputError
        If no structure has a ``target`` label.
    """
    if not path.is_file():
        raise FileNotFoundError(
            f"no {kind} dataset at {path}; pass --{kind} STORE.h5 (a snapshot "
            "store, or an extxyz file, optionally .gz/.xz/.bz2)"
        )
    with tempfile.TemporaryDirectory(prefix="paper-experiment-") as scratch:
        readable = _decompressed(path, Path(scratch))
        structures = load_structures(readable)
        counts, rows = _store_rows(readable, len(structures))
    retried = [skip_retried and retried_scf(a) for a in structures]
    counts["retried"] = sum(retried)
    keep = [k for k, a in enumerate(structures) if _has_label(a, target)]
    counts["unlabelled_target"] = len(structures) - len(keep)
    keep = [k for k in keep if not retried[k]]
    if not keep:
        raise UserInputError(
            f"no {kind} structure in {path} has a {target!r} label; choose another "
            f"--target (valid: {', '.join(keys.TARGETS)})"
        )
    used = [structures[k] for k in keep]
    return Dataset(
        kind,
        path,
        used,
        tuple(rows[k] for k in keep),
        counts,
        dataset_digest(used),
    )


def _decompressed(path: Path, scratch: Path) -> Path:
    opener = _OPENERS.get(path.suffix.lower())
    if opener is None:
        return path
    target = scratch / path.stem
    with opener(path, "rb") as source, target.open("wb") as sink:
        shutil.copyfileobj(source, sink)
    return target


def _store_rows(path: Path, n_done: int) -> tuple[dict[str, int], list[int]]:
    if path.suffix.lower() not in _STORE_SUFFIXES:
        return {keys.DONE: n_done}, list(range(n_done))
    from ase_phonongnn.store import SnapshotStore

    with SnapshotStore.open(path) as store:
        counts = {s: int(store.counts().get(s, 0)) for s in keys.STATUSES}
        rows = [int(r) for r in store.indices(keys.DONE)]
    if len(rows) != n_done:
        raise UserInputError(
            f"{path} changed while it was read ({len(rows)} done rows against "
            f"{n_done} structures); run again"
        )
    return counts, rows


def _has_label(atoms: Atoms, target: str) -> bool:
    return math.isfinite(structure_labels(atoms)[target])


@dataclass(frozen=True)
class Layout:
    """All kinds in one list, with fixed test sets and training pools.

    Attributes
    ----------
    structures
        The phonon-informed structures, then the random ones (then the MD
        ones).
    datasets
        The :class:`Dataset` of each kind, in that order.
    test
        Indices (into ``structures``) of the fixed held-out test set per kind;
        never trained or validated on.
    pools
        Indices per kind of the structures outside the test sets, from which
        every training and validation set is drawn.
    rows
        Store row of each structure (in the store of its kind).
    """

    structures: list[Atoms]
    datasets: Mapping[str, Dataset]
    test: Mapping[str, tuple[int, ...]]
    pools: Mapping[str, tuple[int, ...]]
    rows: tuple[int, ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds laid out, in order."""
        return tuple(self.datasets)

    def combined_test(self) -> tuple[int, ...]:
        """Return the test sets of all kinds together."""
        return tuple(i for kind in self.kinds for i in self.test[kind])

    def pool_order(self, kind: str, seed: int) -> list[int]:
        """Return the pool of ``kind`` shuffled by ``seed`` (prefix: training set)."""
        pool = self.pools[kind]
        return [pool[k] for k in np.random.default_rng(seed).permutation(len(pool))]

    def curve_split(self, kind: str, size: int, seed: int, n_validation: int) -> Split:
        """Training set ``size``, validation next, test: the fixed set of ``kind``."""
        order = self.pool_order(kind, seed)
        return Split(
            tuple(order[:size]),
            tuple(order[size : size + n_validation]),
            self.test[kind],
        )

    def store_rows(self, indices: Sequence[int]) -> list[int]:
        """Store rows of structures given by their indices in ``structures``."""
        return [self.rows[i] for i in indices]

    def to_dict(
        self, seeds: Sequence[int], relative_to: Path | None = None
    ) -> dict[str, Any]:
        """Test rows and per-seed pool orders, as store rows, per kind.

        The stores' paths are relative to the folder ``relative_to`` where
        given (that of the results file: it moves with its clone).
        """
        return {
            kind: {
                "path": _portable(self.datasets[kind].path, relative_to),
                "counts": self.datasets[kind].counts,
                "digest": self.datasets[kind].digest,
                "n_used": len(self.datasets[kind].structures),
                "test_rows": self.store_rows(self.test[kind]),
                "pool_order_rows": {
                    str(seed): self.store_rows(self.pool_order(kind, seed))
                    for seed in seeds
                },
            }
            for kind in self.kinds
        }


def build_layout(datasets: Mapping[str, Dataset], config: ExperimentConfig) -> Layout:
    """Concatenate the kinds and hold out ``config.n_test`` of each, seeded.

    Raises
    ------
    UserInputError
        If a kind has too few structures for its test set and a training set
        of one with its validation set.
    """
    structures: list[Atoms] = []
    test: dict[str, tuple[int, ...]] = {}
    pools: dict[str, tuple[int, ...]] = {}
    for kind in datasets:
        start, n = len(structures), len(datasets[kind].structures)
        if n < config.n_test + 2:
            raise UserInputError(
                f"the {kind} dataset has {n} labelled structures, too few for a "
                f"test set of {config.n_test} and a training set; lower --n-test "
                "or label more snapshots"
            )
        order = np.random.default_rng(config.test_seed).permutation(n) + start
        test[kind] = tuple(int(i) for i in order[: config.n_test])
        pools[kind] = tuple(sorted(int(i) for i in order[config.n_test :]))
        structures += datasets[kind].structures
    rows = tuple(r for kind in datasets for r in datasets[kind].rows)
    return Layout(structures, dict(datasets), test, pools, rows)


def largest_size(pool_size: int, config: ExperimentConfig) -> int:
    """Largest training set that fits a pool together with its validation set."""
    size = math.floor(pool_size / (1 + config.validation_fraction))
    while size > 0 and size + config.n_validation(size) > pool_size:
        size -= 1
    return size


def clip_sizes(layout: Layout, config: ExperimentConfig) -> tuple[list[int], str]:
    """Return the sizes that fit every kind, and a message when some were clipped.

    A size too large for the smallest pool is replaced by the largest size that
    fits, so that the kinds are compared at the same sizes.
    """
    pool = min(len(layout.pools[kind]) for kind in layout.kinds)
    top = largest_size(pool, config)
    if top < 1:
        raise UserInputError(
            f"only {pool} structures outside the test sets: too few for a training "
            "and a validation set; lower --n-test or label more snapshots"
        )
    sizes = sorted({min(size, top) for size in config.sizes})
    too_large = [s for s in config.sizes if s > top]
    if not too_large:
        return sizes, ""
    message = (
        f"sizes {', '.join(map(str, too_large))} do not fit the data: the smallest "
        f"pool has {pool:,} structures outside its test set of {config.n_test}, and "
        f"s training structures need s + ceil({config.validation_fraction:.3g} s) "
        f"of them; the largest size is {top:,}. Label more snapshots, or lower "
        "--n-test or --validation-fraction, to reach them."
    )
    return sizes, message


def _portable(path: Path, folder: Path | None) -> str:
    if folder is None:
        return str(path)
    try:
        return os.path.relpath(path.resolve(), folder.resolve())
    except ValueError:  # another drive (Windows)
        return str(path)
