"""Appending snapshots and labelling results to a store opened for appending.

Every record is written in two flushed steps: its data, then its row of the
group's commit-marker column (:data:`._schema.SNAPSHOT_MARKER`,
:data:`._schema.RESULT_MARKER`). A writer killed between them leaves rows that
readers ignore and the next writer overwrites. The :class:`StoreIndex` is
updated only once a record is committed.

Each dataset is flushed while it is still open, right after it is written:
HDF5 writes a dataset's cached chunks when the dataset is flushed or closed,
and an error on closing (a full disk) cannot be raised, only printed, so
that data would be lost while a later marker still committed it. A failed
write raises here, before the marker moves, and the disk's free space is
checked before a record is written at all (:func:`check_space`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import h5py
import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from ase_phonongnn import keys
from ase_phonongnn.errors import StoreWriteError
from ase_phonongnn.store import _schema
from ase_phonongnn.store._records import StoreIndex, content_hash, dumps

#: Bytes of free disk space kept beyond a record's own size: the new chunks
#: one record may allocate (a chunk each of forces, labels, refs and text).
SPACE_SLACK: Final = 256 * 1024

#: Labels a store keeps, as :meth:`SnapshotStore.write_labels` takes them.
LABEL_KEYS: Final = (*keys.SCALAR_LABELS, keys.STRESS, keys.FORCES)


def _write_rows(file: h5py.File, path: str, start: int, values: NDArray[Any]) -> None:
    """Write ``values`` at rows ``start:`` of a dataset, growing it as needed."""
    dataset = file[path]
    stop = start + len(values)
    if dataset.shape[0] < stop:
        # Grow a chunk at a time: resizing is the costly part of a small write.
        # Rows past the committed ones hold the fill value and are ignored.
        chunk = dataset.chunks[0]
        dataset.resize(-(-stop // chunk) * chunk, axis=0)
    if len(values):
        dataset[start:stop] = values
    # raise a failed write now, while the dataset is open (see the module notes)
    dataset.flush()


def check_space(file: h5py.File, nbytes: int) -> None:
    """Raise StoreWriteError unless the store's disk has room for ``nbytes`` more.

    Room means the bytes themselves plus :data:`SPACE_SLACK` for the chunks a
    record may allocate.
    """
    path = file.filename
    try:
        stats = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except (AttributeError, OSError):  # no statvfs: the flushes still check
        return
    free = stats.f_bavail * stats.f_frsize
    if free < nbytes + SPACE_SLACK:
        raise StoreWriteError(
            f"{path}: the disk is full ({free // 1024} KiB free, a record needs up "
            f"to {(nbytes + SPACE_SLACK) // 1024} KiB); every record before this "
            "one is saved: free some space and run again to resume"
        )


def _commit(file: h5py.File, marker: str, start: int, values: NDArray[Any]) -> None:
    """Flush the data written so far, then commit its rows by their markers."""
    file.flush()
    _write_rows(file, marker, start, values)
    file.flush()


def _starts(first: int, lengths: NDArray[np.integer[Any]]) -> NDArray[np.int64]:
    """First row of each of consecutive blocks of ``lengths`` rows from ``first``."""
    return first + np.concatenate([[0], np.cumsum(lengths)[:-1]])


def checked_snapshots(snapshots: Iterable[Atoms]) -> list[Atoms]:
    """Return ``snapshots`` as a list; raise for a non-Atoms item or NaN positions.

    Raises
    ------
    TypeError
        An item is not an :class:`ase.Atoms`.
    ValueError
        An item has non-finite positions or cell (it cannot be hashed).
    """
    atoms_list = list(snapshots)
    for position, atoms in enumerate(atoms_list):
        if not isinstance(atoms, Atoms):
            raise TypeError(
                f"snapshots[{position}] is a {type(atoms).__name__}, expected ase.Atoms"
            )
        if not (
            np.isfinite(atoms.positions).all() and np.isfinite(atoms.cell.array).all()
        ):
            raise ValueError(
                f"snapshots[{position}] ({atoms.symbols}) has "
                "non-finite positions or cell (NaN or inf); a store keeps only "
                "finite structures"
            )
    return atoms_list


def add_snapshots(
    file: h5py.File, index: StoreIndex, snapshots: Sequence[Atoms]
) -> NDArray[np.int64]:
    """Append the structures not yet stored; return the row of each given one.

    A structure is identified by its :func:`content_hash`: one already in the
    store, or earlier in ``snapshots``, keeps its row.
    """
    rows = np.empty(len(snapshots), dtype=np.int64)
    new: list[Atoms] = []
    new_hashes: list[str] = []
    pending: dict[str, int] = {}
    for position, atoms in enumerate(snapshots):
        digest = content_hash(atoms)
        row = index.hashes.get(digest, pending.get(digest))
        if row is None:
            row = pending[digest] = index.n_snapshots + len(new)
            new.append(atoms)
            new_hashes.append(digest)
        rows[position] = row
    if new:
        _append_snapshots(file, index, new, new_hashes)
    return rows


def _append_snapshots(
    file: h5py.File,
    index: StoreIndex,
    new: Sequence[Atoms],
    hashes: Sequence[str],
) -> None:
    n_atoms = np.array([len(atoms) for atoms in new], dtype=np.int32)
    atom_start = _starts(index.atom_end, n_atoms)
    blobs = [
        dumps({k: v for k, v in atoms.info.items() if k not in keys.RECORD_KEYS})
        for atoms in new
    ]
    lengths = np.array([len(blob) for blob in blobs], dtype=np.int64)
    check_space(file, int(n_atoms.sum()) * 28 + int(lengths.sum()) + 128 * len(new))
    text_start = _starts(index.text_end, lengths)
    n = index.n_snapshots
    _write_rows(
        file,
        "atoms/numbers",
        index.atom_end,
        np.concatenate([a.numbers for a in new]),
    )
    _write_rows(
        file,
        "atoms/positions",
        index.atom_end,
        np.concatenate([a.positions for a in new]),
    )
    _write_rows(
        file, "text/bytes", index.text_end, np.frombuffer(b"".join(blobs), np.uint8)
    )
    _write_rows(file, "snapshots/n_atoms", n, n_atoms)
    _write_rows(file, "snapshots/atom_start", n, atom_start)
    _write_rows(file, "snapshots/cell", n, np.array([a.cell.array for a in new]))
    _write_rows(file, "snapshots/pbc", n, np.array([a.pbc for a in new], dtype=bool))
    _write_rows(file, "snapshots/info", n, np.stack([text_start, lengths], axis=1))
    _commit(file, _schema.SNAPSHOT_MARKER, n, np.array(hashes, dtype="S64"))
    for offset, digest in enumerate(hashes):
        index.hashes[digest] = n + offset
    index.n_snapshots += len(new)
    index.atom_end += int(n_atoms.sum())
    index.text_end += int(lengths.sum())
    index.n_atoms = np.concatenate([index.n_atoms, n_atoms])
    index.latest = np.concatenate([index.latest, np.full(len(new), -1, np.int64)])
    index.status = np.concatenate([index.status, np.zeros(len(new), np.int8)])


def check_label_keys(labels: Mapping[str, Any]) -> None:
    """Raise ValueError if ``labels`` has a key outside :data:`LABEL_KEYS`."""
    unknown = set(labels) - set(LABEL_KEYS)
    if unknown:
        raise ValueError(
            f"unknown labels {sorted(unknown)}; a store keeps {', '.join(LABEL_KEYS)}"
        )


def append_result(
    file: h5py.File,
    index: StoreIndex,
    row: int,
    status: str,
    labels: Mapping[str, Any],
    provenance: Mapping[str, Any],
    message: str,
) -> None:
    """Append a labelling result of snapshot ``row``; it becomes its newest.

    Parameters
    ----------
    file, index
        The store, open for appending, and its index.
    row
        Row of the snapshot.
    status
        ``"done"`` or ``"failed"``.
    labels
        Labels by :data:`LABEL_KEYS` (see :meth:`SnapshotStore.write_labels`).
    provenance
        JSON-representable record of how the result was made.
    message
        Why labelling failed ("" for a done result).
    """
    if not 0 <= row < index.n_snapshots:
        raise IndexError(
            f"snapshot {row} out of range for a store of {index.n_snapshots}"
        )
    n_atoms = int(index.n_atoms[row])
    forces = None
    if labels.get(keys.FORCES) is not None:
        forces = np.asarray(labels[keys.FORCES], dtype=float)
        if forces.shape != (n_atoms, 3):
            raise ValueError(
                f"forces of snapshot {row} must have shape ({n_atoms}, 3) "
                f"(got {forces.shape})"
            )
    stress = np.full(6, np.nan)
    if labels.get(keys.STRESS) is not None:
        stress = np.asarray(labels[keys.STRESS], dtype=float)
        if stress.shape != (6,):
            raise ValueError(
                f"stress must be a Voigt 6-vector in eV/Å^3 (got shape {stress.shape})"
            )
    provenance_blob, message_blob = dumps(provenance), message.encode()
    check_space(
        file, (0 if forces is None else forces.nbytes) + len(provenance_blob) + 256
    )
    forces_start = -1
    if forces is not None:
        forces_start = index.force_end
        _write_rows(file, "result_atoms/forces", forces_start, forces)
    text_start = index.text_end
    _write_rows(
        file,
        "text/bytes",
        text_start,
        np.frombuffer(provenance_blob + message_blob, np.uint8),
    )
    r = index.n_results
    values = [labels.get(key) for key in keys.SCALAR_LABELS]
    row_labels = np.concatenate(
        [[np.nan if value is None else float(value) for value in values], stress]
    )
    _write_rows(file, "results/labels", r, row_labels[None])
    refs = [
        row,
        forces_start,
        text_start,
        len(provenance_blob),
        text_start + len(provenance_blob),
        len(message_blob),
    ]
    _write_rows(file, "results/refs", r, np.array([refs], dtype=np.int64))
    code = _schema.STATUS_CODES[status]
    _commit(file, _schema.RESULT_MARKER, r, np.array([code], dtype=np.int8))
    index.n_results += 1
    index.latest[row] = r
    index.status[row] = code
    if forces_start >= 0:
        index.force_end += n_atoms
    index.text_end += len(provenance_blob) + len(message_blob)
