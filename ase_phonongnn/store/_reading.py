"""Reading a store: status queries and snapshots with their newest result as Atoms."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import h5py
import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from ase_phonongnn import keys
from ase_phonongnn.store import _schema
from ase_phonongnn.store._records import StoreIndex, span_end

#: Status code of each status name; 0 (the fill value) means pending.
_STATUS_CODES: Final = {keys.PENDING: 0, **_schema.STATUS_CODES}
_STATUS_NAMES: Final = {code: name for name, code in _STATUS_CODES.items()}
#: Snapshots read per block when iterating (bounds memory).
READ_BLOCK: Final = 1024


def refresh(file: h5py.File, index: StoreIndex, path: Path) -> StoreIndex:
    """Return ``index``, re-read if a writer has committed rows since.

    Parameters
    ----------
    file
        The store, open for reading in SWMR mode.
    index
        The index read so far.
    path
        The store's file, for messages.
    """
    for column in _schema.COLUMNS:
        file[column.path].refresh()
    # A writer commits row n by writing the marker column's row n.
    for marker, n, fill in (
        (_schema.SNAPSHOT_MARKER, index.n_snapshots, b""),
        (_schema.RESULT_MARKER, index.n_results, 0),
    ):
        dataset = file[marker]
        if dataset.shape[0] > n and dataset[n] != fill:
            return StoreIndex.from_file(file, str(path))
    return index


def status_counts(index: StoreIndex) -> dict[str, int]:
    """Return the number of snapshots per status (done, failed, pending)."""
    return {
        name: int(np.count_nonzero(index.status == _STATUS_CODES[name]))
        for name in (keys.DONE, keys.FAILED, keys.PENDING)
    }


def status_rows(index: StoreIndex, status: str | None) -> NDArray[np.int64]:
    """Rows of the snapshots with a given status (None: all), in store order."""
    if status is None:
        return np.arange(index.n_snapshots, dtype=np.int64)
    if status not in keys.STATUSES:
        raise ValueError(
            f"status must be one of {', '.join(keys.STATUSES)} or None (got {status!r})"
        )
    return np.flatnonzero(index.status == _STATUS_CODES[status]).astype(np.int64)


def _text(blob: NDArray[np.uint8], offset: int, span: NDArray[np.int64]) -> str:
    start = int(span[0]) - offset
    return blob[start : start + int(span[1])].tobytes().decode()


def read_rows(
    file: h5py.File, index: StoreIndex, rows: NDArray[np.int64]
) -> list[Atoms]:
    """Return snapshots ``rows`` (not empty) with their newest results.

    Each column is read once, as the block of rows that covers every snapshot
    asked for. See :meth:`SnapshotStore.read_atoms` for what the structures
    hold.
    """
    lo, hi = int(rows.min()), int(rows.max()) + 1
    snap = {
        name: file[f"snapshots/{name}"][lo:hi]
        for name in ("n_atoms", "atom_start", "cell", "pbc", "info", "hash")
    }
    atom_lo = int(snap["atom_start"].min())
    atom_hi = int((snap["atom_start"] + snap["n_atoms"]).max())
    numbers = file["atoms/numbers"][atom_lo:atom_hi]
    positions = file["atoms/positions"][atom_lo:atom_hi]
    latest = index.latest[rows]
    result: dict[str, NDArray[Any]] = {}
    r_lo = 0
    if (latest >= 0).any():
        r_lo, r_hi = int(latest[latest >= 0].min()), int(latest.max()) + 1
        refs = file["results/refs"][r_lo:r_hi]
        result = {
            "labels": file["results/labels"][r_lo:r_hi],
            "status": file[_schema.RESULT_MARKER][r_lo:r_hi],
            "forces_start": refs[:, 1],
            "provenance": refs[:, 2:4],
            "message": refs[:, 4:6],
        }
    spans = [snap["info"]]
    if result:
        spans += [result["provenance"], result["message"]]
    all_spans = np.concatenate(spans)
    all_spans = all_spans[all_spans[:, 1] > 0]
    text_lo = int(all_spans[:, 0].min()) if all_spans.size else 0
    text = file["text/bytes"][text_lo : span_end(all_spans)]
    forces = np.zeros((0, 3))
    force_lo = 0
    if result:
        used = latest[latest >= 0] - r_lo
        starts = result["forces_start"][used]
        ends = starts + index.n_atoms[rows[latest >= 0]]
        if (starts >= 0).any():
            force_lo = int(starts[starts >= 0].min())
            forces = file["result_atoms/forces"][
                force_lo : int(ends[starts >= 0].max())
            ]

    out = []
    for row, newest in zip(rows, latest, strict=True):
        i = int(row) - lo
        start = int(snap["atom_start"][i]) - atom_lo
        stop = start + int(snap["n_atoms"][i])
        atoms = Atoms(
            numbers=numbers[start:stop],
            positions=positions[start:stop],
            cell=snap["cell"][i],
            pbc=snap["pbc"][i],
        )
        if snap["info"][i, 1]:
            atoms.info.update(json.loads(_text(text, text_lo, snap["info"][i])))
        atoms.info[keys.CONTENT_HASH] = snap["hash"][i].decode()
        atoms.info[keys.LABEL_STATUS] = keys.PENDING
        if newest >= 0:
            _attach_result(
                atoms, result, int(newest) - r_lo, text, text_lo, forces, force_lo
            )
        out.append(atoms)
    return out


def _attach_result(
    atoms: Atoms,
    result: Mapping[str, NDArray[Any]],
    r: int,
    text: NDArray[np.uint8],
    text_lo: int,
    forces: NDArray[np.float64],
    force_lo: int,
) -> None:
    """Put result ``r`` of the block read into ``atoms.info`` and its forces."""
    status = _STATUS_NAMES[int(result["status"][r])]
    atoms.info[keys.LABEL_STATUS] = status
    provenance = (
        json.loads(_text(text, text_lo, result["provenance"][r]))
        if result["provenance"][r, 1]
        else {}
    )
    atoms.info[keys.LABELLER] = provenance.get("labeller", "")
    atoms.info[keys.LABEL_PROVENANCE] = provenance
    if status == keys.FAILED:
        atoms.info[keys.LABEL_MESSAGE] = _text(text, text_lo, result["message"][r])
        return
    labels = result["labels"][r]
    for column, key in enumerate(keys.SCALAR_LABELS):
        if np.isfinite(labels[column]):
            atoms.info[key] = float(labels[column])
    stress = labels[len(keys.SCALAR_LABELS) :]
    if np.isfinite(stress).all():
        atoms.info[keys.STRESS] = np.array(stress, dtype=float)
    start = int(result["forces_start"][r])
    if start >= 0:
        start -= force_lo
        atoms.arrays[keys.FORCES] = np.array(forces[start : start + len(atoms)])
