"""Content hashes, JSON provenance and the in-memory index of a store."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Final

import h5py
import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from ase_phonongnn._json import to_jsonable
from ase_phonongnn.errors import StoreError
from ase_phonongnn.store import _schema

#: Positions and cell are compared on a grid of this spacing, in Å. It is the
#: precision of ASE's extxyz writer, so an exported and re-read snapshot keeps
#: its hash, and far below any physical displacement.
HASH_RESOLUTION: Final = 1e-8
#: Reads of a store's index, and the pause after the first, in SWMR mode.
_SWMR_ATTEMPTS: Final = 5
_SWMR_PAUSE_S: Final = 0.02


def content_hash(atoms: Atoms) -> str:
    """Return the SHA-256 hex digest identifying a structure.

    The digest covers the atomic numbers, the positions and the cell (both
    rounded to :data:`HASH_RESOLUTION` Å) and the periodic boundary
    conditions; ``atoms.info`` and any calculator are ignored. Two snapshots
    with the same digest are the same structure and are labelled once.

    Parameters
    ----------
    atoms
        The structure.

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    digest = hashlib.sha256(b"ase-phonongnn structure v1")
    numbers = np.ascontiguousarray(atoms.numbers, dtype="<i8")
    positions = np.rint(atoms.positions / HASH_RESOLUTION).astype("<i8")
    cell = np.rint(atoms.cell.array / HASH_RESOLUTION).astype("<i8")
    for array in (numbers, positions, cell, np.asarray(atoms.pbc, dtype="u1")):
        digest.update(np.int64(array.size).tobytes())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON."""
    return json.dumps(
        to_jsonable(value), sort_keys=True, separators=(",", ":")
    ).encode()


def _committed(marker: NDArray[Any], fill: Any) -> int:
    """Count the leading rows of a commit-marker column that were written."""
    unwritten = np.flatnonzero(marker == fill)
    return int(unwritten[0]) if unwritten.size else int(marker.shape[0])


def span_end(spans: NDArray[np.int64]) -> int:
    """Return the end of the furthest ``[start, length]`` span (0 for none)."""
    return int((spans[:, 0] + spans[:, 1]).max()) if spans.size else 0


@dataclass
class StoreIndex:
    """What a store holds, read from its columns and kept in memory.

    Attributes
    ----------
    n_snapshots, n_results
        Committed rows of /snapshots and /results.
    atom_end, force_end, text_end
        First free row of /atoms, /result_atoms and /text.
    hashes
        Content hash -> snapshot row.
    n_atoms
        Atoms per snapshot, shape (n_snapshots,).
    latest
        Newest result row of each snapshot, −1 where none, shape (n_snapshots,).
    status
        Status code of each snapshot (0 pending, 1 done, 2 failed),
        shape (n_snapshots,).
    """

    n_snapshots: int = 0
    n_results: int = 0
    atom_end: int = 0
    force_end: int = 0
    text_end: int = 0
    hashes: dict[str, int] = field(default_factory=dict)
    n_atoms: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    latest: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    status: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))

    @classmethod
    def from_file(cls, file: h5py.File, path: str) -> StoreIndex:
        """Read the committed rows of an open store and check their consistency.

        A reader in SWMR mode can see a dataset's new rows before it sees the
        new length of another: an inconsistency there is read again, after
        refreshing every dataset, before the store is called damaged.
        """
        for attempt in range(_SWMR_ATTEMPTS if file.swmr_mode else 1):
            try:
                return cls._from_file(file, path)
            except (
                OSError,
                KeyError,
                ValueError,
                IndexError,
                RuntimeError,
                UnicodeDecodeError,
            ) as err:
                error: StoreError = StoreError(
                    f"{path} is a damaged or truncated store: {err}"
                )
                error.__cause__ = err
            except StoreError as err:
                error = err
            if file.swmr_mode:
                time.sleep(_SWMR_PAUSE_S * (attempt + 1))
                for column in _schema.COLUMNS:
                    file[column.path].refresh()
        raise error

    @classmethod
    def _from_file(cls, file: h5py.File, path: str) -> StoreIndex:
        hashes = file[_schema.SNAPSHOT_MARKER][...]
        n = _committed(hashes, b"")
        statuses = file[_schema.RESULT_MARKER][...]
        k = _committed(statuses, 0)
        lengths = {
            column.path: file[column.path].shape[0] for column in _schema.COLUMNS
        }
        for column in _schema.COLUMNS:
            group_rows = {"snapshots": n, "results": k}.get(column.path.split("/")[0])
            if group_rows is not None and lengths[column.path] < group_rows:
                raise StoreError(
                    f"{path} is damaged: {column.path} has {lengths[column.path]} "
                    f"rows but {group_rows} are committed"
                )
        n_atoms = file["snapshots/n_atoms"][:n].astype(np.int32)
        atom_start = file["snapshots/atom_start"][:n]
        atom_end = int(atom_start[-1] + n_atoms[-1]) if n else 0
        refs = file["results/refs"][:k]
        snapshot, forces_start = refs[:, 0], refs[:, 1]
        if k and (snapshot.min() < 0 or snapshot.max() >= n):
            raise StoreError(
                f"{path} is damaged: a result refers to a missing snapshot"
            )
        with_forces = forces_start >= 0
        force_end = (
            int((forces_start[with_forces] + n_atoms[snapshot[with_forces]]).max())
            if with_forces.any()
            else 0
        )
        text_end = max(
            span_end(file["snapshots/info"][:n]),
            span_end(refs[:, 2:4]),
            span_end(refs[:, 4:6]),
        )
        if (
            atom_end > lengths["atoms/positions"]
            or atom_end > lengths["atoms/numbers"]
            or force_end > lengths["result_atoms/forces"]
            or text_end > lengths["text/bytes"]
        ):
            raise StoreError(f"{path} is damaged: committed rows point past the data")
        latest = np.full(n, -1, dtype=np.int64)
        np.maximum.at(latest, snapshot, np.arange(k, dtype=np.int64))
        status = np.zeros(n, dtype=np.int8)
        has = latest >= 0
        status[has] = statuses[latest[has]]
        index = cls(
            n_snapshots=n,
            n_results=k,
            atom_end=atom_end,
            force_end=force_end,
            text_end=text_end,
            n_atoms=n_atoms,
            latest=latest,
            status=status,
        )
        for row, digest in enumerate(hashes[:n]):
            index.hashes.setdefault(digest.decode(), row)
        return index
