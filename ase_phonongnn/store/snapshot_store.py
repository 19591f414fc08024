"""SnapshotStore: labelled thermal snapshots in one crash-safe HDF5 file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from ase_phonongnn import keys
from ase_phonongnn.errors import StoreError, StoreFormatError
from ase_phonongnn.store import _export, _hdf5, _schema
from ase_phonongnn.store._records import StoreIndex, content_hash, dumps

_STATUS_NAMES = {
    0: keys.PENDING,
    **{code: name for name, code in _schema.STATUS_CODES.items()},
}
_LABEL_KEYS = (*keys.SCALAR_LABELS, keys.STRESS, keys.FORCES)
#: Bytes of unused file space tolerated before a writer compacts on closing.
_COMPACT_SLACK = 1 << 20
#: Snapshots read per block when iterating (bounds memory).
_READ_BLOCK = 1024


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


def _text(blob: NDArray[np.uint8], offset: int, span: NDArray[np.int64]) -> str:
    start = int(span[0]) - offset
    return blob[start : start + int(span[1])].tobytes().decode()


class SnapshotStore:
    """Snapshots, their labels and provenance in one HDF5 file.

    A store holds structures (positions, numbers, cell, pbc and the sampling
    information of ``atoms.info``), each identified by a content hash
    (:func:`content_hash`), and for each structure a labelling status
    (pending, done or failed), the labels of :mod:`ase_phonongnn.keys`
    (NaN when missing), forces, the failure message and a provenance record
    (labeller name and parameters, SCF retry rung, package versions).

    Use :meth:`create` or :meth:`open`; the HDF5 file is opened lazily, never
    pickled, and reopened in a process that receives a pickled store. Any
    number of processes may read a store, also while one process writes it;
    only one process writes at a time (it holds ``<store>.lock``). Every
    record is flushed when written: a writer killed at any instant loses only
    the record in flight, and the next writer continues from the rest.

    Parameters
    ----------
    path
        The ``.h5`` file.
    mode
        ``"r"`` to read, ``"a"`` to read and append.

    Examples
    --------
    >>> with SnapshotStore.open("labels.h5") as store:  # doctest: +SKIP
    ...     print(len(store), store.counts())
    ...     done = store.read_atoms(status="done")
    ...     gaps = [atoms.info["band_gap"] for atoms in done]
    """

    def __init__(
        self, path: str | os.PathLike[str], mode: Literal["r", "a"] = "r"
    ) -> None:
        if mode not in ("r", "a"):
            raise ValueError(f"mode must be 'r' (read) or 'a' (append) (got {mode!r})")
        self._path = Path(path)
        self._mode: Literal["r", "a"] = mode
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._index = StoreIndex()
        self._lock: _hdf5.WriterLock | None = None

    # -- opening and closing -------------------------------------------------
    @classmethod
    def create(
        cls, path: str | os.PathLike[str], *, overwrite: bool = False
    ) -> SnapshotStore:
        """Create an empty store and return it open for appending.

        Parameters
        ----------
        path
            The ``.h5`` file to create.
        overwrite
            Replace an existing file (default False: an existing file is an
            error and stays untouched).
        """
        store = cls(path, "a")
        store._lock = _hdf5.WriterLock(store._path)
        store._lock.acquire()
        try:
            if store._path.exists() and not overwrite:
                raise FileExistsError(
                    f"{store._path} exists: add to it with SnapshotStore.open(path, "
                    "mode='a'), or pass overwrite=True to replace it"
                )
            temporary = store._path.with_name(
                f"{store._path.name}.create-{os.getpid()}"
            )
            try:
                with _hdf5.new_file(temporary) as file:
                    _schema.create_layout(file)
                _hdf5.replace_atomically(temporary, store._path)
            finally:
                temporary.unlink(missing_ok=True)
            store._open()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], mode: Literal["r", "a"] = "r"
    ) -> SnapshotStore:
        """Open an existing store.

        Parameters
        ----------
        path
            The ``.h5`` file.
        mode
            ``"r"`` (default) to read; ``"a"`` to also append. Opening for
            appending migrates an older format, and repairs a store whose
            writer was killed, keeping every committed record.

        Raises
        ------
        FileNotFoundError
            No file at ``path``.
        StoreError
            The file is not HDF5, is damaged, or another process writes it.
        StoreFormatError
            The file is not a snapshot store, or its format is newer than this
            version of ase-phonongnn reads.
        """
        store = cls(path, mode)
        store._open()
        return store

    def _open(self) -> h5py.File:
        if self._file is not None and self._pid == os.getpid():
            return self._file
        if self._file is not None:
            # Inherited through fork: HDF5 handles must not cross processes.
            if self._mode == "a":
                raise StoreError(
                    f"{self._path} was opened for writing in process {self._pid}; "
                    "open it again in this process (read-only, or after the "
                    "writer closed it)"
                )
            self._file = None
        if not self._path.exists():
            raise FileNotFoundError(
                f"no snapshot store at {self._path}: create one with "
                "SnapshotStore.create(path) or 'phonongnn label INPUT --out STORE.h5'"
            )
        if self._mode == "r":
            file = _hdf5.open_reader(self._path)
            try:
                version = _schema.check_format(file, str(self._path))
                if version < _schema.FORMAT_VERSION:
                    raise StoreFormatError(
                        f"{self._path} has the older store format_version {version}; "
                        "open it once with mode='a' to migrate it to "
                        f"{_schema.FORMAT_VERSION}"
                    )
                self._index = StoreIndex.from_file(file, str(self._path))
            except BaseException:
                file.close()
                raise
        else:
            if self._lock is None:
                self._lock = _hdf5.WriterLock(self._path)
                self._lock.acquire()
            try:
                file = self._open_writer()
            except BaseException:
                self.close()
                raise
        self._file, self._pid = file, os.getpid()
        return file

    def _open_writer(self) -> h5py.File:
        with _hdf5.open_reader(self._path) as file:
            version = _schema.check_format(file, str(self._path))
        if version < _schema.FORMAT_VERSION:
            with _hdf5.open_plain_writer(self._path) as file:
                _schema.migrate(file, str(self._path))
        try:
            file = _hdf5.open_writer(self._path)
        except OSError as err:
            if not _hdf5.left_open(err):
                raise _hdf5._damaged(self._path, err) from err
            _hdf5.rewrite(self._path)
            file = _hdf5.open_writer(self._path)
        try:
            self._index = StoreIndex.from_file(file, str(self._path))
        except BaseException:
            file.close()
            raise
        return file

    def close(self) -> None:
        """Close the file (and release the writer lock); the store can be reopened.

        A writer whose file holds much more space than its data (many small
        :meth:`add` calls rewrite compressed chunks) compacts it first.
        """
        if self._file is not None and self._pid == os.getpid():
            compact = False
            if self._mode == "a" and self._file.id.valid:
                used = sum(
                    self._file[column.path].id.get_storage_size()
                    for column in _schema.COLUMNS
                )
                compact = os.path.getsize(self._path) > 2 * used + _COMPACT_SLACK
            self._file.close()
            if compact:
                _hdf5.rewrite(self._path)
        self._file = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> SnapshotStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self._path), "mode": self._mode}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["mode"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"SnapshotStore({str(self._path)!r}, mode={self._mode!r})"

    @property
    def path(self) -> Path:
        """The store's file."""
        return self._path

    @property
    def mode(self) -> Literal["r", "a"]:
        """``"r"`` or ``"a"``."""
        return self._mode

    # -- reading -------------------------------------------------------------
    def _current(self) -> tuple[h5py.File, StoreIndex]:
        """Return the open file and an index including what a writer committed."""
        file = self._open()
        if self._mode == "r" and file.swmr_mode:
            for column in _schema.COLUMNS:
                file[column.path].refresh()
            # A writer commits row n by writing the marker column's row n.
            for marker, n, fill in (
                (_schema.SNAPSHOT_MARKER, self._index.n_snapshots, b""),
                (_schema.RESULT_MARKER, self._index.n_results, 0),
            ):
                dataset = file[marker]
                if dataset.shape[0] > n and dataset[n] != fill:
                    self._index = StoreIndex.from_file(file, str(self._path))
                    break
        return file, self._index

    def __len__(self) -> int:
        return self._current()[1].n_snapshots

    def __getitem__(self, index: int) -> Atoms:
        """Return snapshot ``index`` with its labels (see :meth:`read_atoms`)."""
        n = len(self)
        if not isinstance(index, int | np.integer):
            raise TypeError(f"store index must be an int (got {type(index).__name__})")
        if not -n <= index < n:
            raise IndexError(f"snapshot {index} out of range for a store of {n}")
        return self._read(np.array([index % n]))[0]

    def __iter__(self) -> Iterator[Atoms]:
        n = len(self)
        for start in range(0, n, _READ_BLOCK):
            yield from self._read(np.arange(start, min(n, start + _READ_BLOCK)))

    def counts(self) -> dict[str, int]:
        """Return the number of snapshots per status (done, failed, pending)."""
        status = self._current()[1].status
        return {
            keys.DONE: int(np.count_nonzero(status == _schema.STATUS_CODES[keys.DONE])),
            keys.FAILED: int(
                np.count_nonzero(status == _schema.STATUS_CODES[keys.FAILED])
            ),
            keys.PENDING: int(np.count_nonzero(status == 0)),
        }

    def indices(self, status: str | None = None) -> NDArray[np.int64]:
        """Rows of the snapshots with a given status (None: all), in store order."""
        index = self._current()[1]
        if status is None:
            return np.arange(index.n_snapshots, dtype=np.int64)
        if status not in keys.STATUSES:
            raise ValueError(
                f"status must be one of {', '.join(keys.STATUSES)} or None "
                f"(got {status!r})"
            )
        code = 0 if status == keys.PENDING else _schema.STATUS_CODES[status]
        return np.flatnonzero(index.status == code).astype(np.int64)

    def content_hashes(self) -> list[str]:
        """Content hash of every snapshot, in store order."""
        index = self._current()[1]
        return sorted(index.hashes, key=index.hashes.__getitem__)

    def read_atoms(self, status: str | None = keys.DONE) -> list[Atoms]:
        """Return the snapshots with a given status, in store order.

        Parameters
        ----------
        status
            ``"done"`` (default), ``"failed"``, ``"pending"``, or None for all.

        Returns
        -------
        list of Atoms
            New structures. ``atoms.info`` holds the sampling information the
            snapshot was stored with, ``content_hash`` and ``label_status``;
            for a labelled snapshot also ``labeller`` and ``label_provenance``
            (a dict), and for a failed one ``label_message``. A done snapshot
            has its labels in ``atoms.info`` (``energy`` eV,
            ``energy_per_atom`` eV/atom, ``band_gap`` eV, ``vbm`` eV,
            ``hydrostatic_stress`` GPa, ``stress`` Voigt-6 eV/Å³; a label its
            labeller could not give is absent) and its forces, shape
            (n_atoms, 3) in eV/Å, in ``atoms.arrays["forces"]``.
        """
        return self._read(self.indices(status))

    def _read(self, rows: NDArray[np.int64]) -> list[Atoms]:
        if rows.size == 0:
            return []
        file, index = self._current()
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
        text_hi = (
            int((all_spans[:, 0] + all_spans[:, 1]).max()) if all_spans.size else 0
        )
        text = file["text/bytes"][text_lo:text_hi]
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
                self._attach_result(
                    atoms, result, int(newest) - r_lo, text, text_lo, forces, force_lo
                )
            out.append(atoms)
        return out

    @staticmethod
    def _attach_result(
        atoms: Atoms,
        result: Mapping[str, NDArray[Any]],
        r: int,
        text: NDArray[np.uint8],
        text_lo: int,
        forces: NDArray[np.float64],
        force_lo: int,
    ) -> None:
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

    # -- writing -------------------------------------------------------------
    def _writable(self) -> tuple[h5py.File, StoreIndex]:
        if self._mode != "a":
            raise StoreError(
                f"{self._path} is open read-only: open it with mode='a' to write"
            )
        return self._open(), self._index

    def add(self, snapshots: Iterable[Atoms]) -> NDArray[np.int64]:
        """Add structures as pending snapshots; return their rows in the store.

        A structure whose content hash is already in the store (or earlier in
        ``snapshots``) is not added again: its existing row is returned. The
        JSON-representable entries of ``atoms.info`` (temperature, method,
        seed and other sampling provenance) are stored with the structure;
        labels and store records in ``atoms.info`` are not.

        Parameters
        ----------
        snapshots
            Structures, any number of atoms each.

        Returns
        -------
        ndarray of int64, shape (n_snapshots,)
            Row of each given structure.
        """
        atoms_list = list(snapshots)
        for position, atoms in enumerate(atoms_list):
            if not isinstance(atoms, Atoms):
                raise TypeError(
                    f"snapshots[{position}] is a {type(atoms).__name__}, "
                    "expected ase.Atoms"
                )
        file, index = self._writable()
        rows = np.empty(len(atoms_list), dtype=np.int64)
        new: list[Atoms] = []
        new_hashes: list[str] = []
        pending: dict[str, int] = {}
        for position, atoms in enumerate(atoms_list):
            digest = content_hash(atoms)
            row = index.hashes.get(digest, pending.get(digest))
            if row is None:
                row = pending[digest] = index.n_snapshots + len(new)
                new.append(atoms)
                new_hashes.append(digest)
            rows[position] = row
        if new:
            self._append_snapshots(file, index, new, new_hashes)
        return rows

    def _append_snapshots(
        self,
        file: h5py.File,
        index: StoreIndex,
        new: Sequence[Atoms],
        hashes: Sequence[str],
    ) -> None:
        n_atoms = np.array([len(atoms) for atoms in new], dtype=np.int32)
        atom_start = index.atom_end + np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
        blobs = [
            dumps({k: v for k, v in atoms.info.items() if k not in keys.RECORD_KEYS})
            for atoms in new
        ]
        lengths = np.array([len(blob) for blob in blobs], dtype=np.int64)
        text_start = index.text_end + np.concatenate([[0], np.cumsum(lengths)[:-1]])
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
        _write_rows(
            file, "snapshots/pbc", n, np.array([a.pbc for a in new], dtype=bool)
        )
        _write_rows(file, "snapshots/info", n, np.stack([text_start, lengths], axis=1))
        file.flush()
        _write_rows(file, _schema.SNAPSHOT_MARKER, n, np.array(hashes, dtype="S64"))
        file.flush()
        for offset, digest in enumerate(hashes):
            index.hashes[digest] = n + offset
        index.n_snapshots += len(new)
        index.atom_end += int(n_atoms.sum())
        index.text_end += int(lengths.sum())
        index.n_atoms = np.concatenate([index.n_atoms, n_atoms])
        index.latest = np.concatenate([index.latest, np.full(len(new), -1, np.int64)])
        index.status = np.concatenate([index.status, np.zeros(len(new), np.int8)])

    def write_labels(
        self,
        index: int,
        labels: Mapping[str, Any],
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the labels of snapshot ``index``; its status becomes done.

        Parameters
        ----------
        index
            Row of the snapshot.
        labels
            Any of ``energy`` (eV), ``energy_per_atom`` (eV/atom), ``band_gap``
            (eV), ``vbm`` (eV), ``hydrostatic_stress`` (GPa), ``stress``
            (Voigt-6, eV/Å³) and ``forces`` ((n_atoms, 3), eV/Å). Missing
            ones are stored as NaN.
        provenance
            JSON-representable record of how the labels were made; its
            ``labeller`` entry names the labeller.
        """
        unknown = set(labels) - set(_LABEL_KEYS)
        if unknown:
            raise ValueError(
                f"unknown labels {sorted(unknown)}; a store keeps "
                f"{', '.join(_LABEL_KEYS)}"
            )
        self._append_result(index, keys.DONE, labels, provenance or {}, "")

    def write_failure(
        self, index: int, message: str, provenance: Mapping[str, Any] | None = None
    ) -> None:
        """Record that labelling snapshot ``index`` failed, and why."""
        self._append_result(index, keys.FAILED, {}, provenance or {}, str(message))

    def _append_result(
        self,
        row: int,
        status: str,
        labels: Mapping[str, Any],
        provenance: Mapping[str, Any],
        message: str,
    ) -> None:
        file, index = self._writable()
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
                    "stress must be a Voigt 6-vector in eV/Å^3 "
                    f"(got shape {stress.shape})"
                )
        forces_start = -1
        if forces is not None:
            forces_start = index.force_end
            _write_rows(file, "result_atoms/forces", forces_start, forces)
        provenance_blob, message_blob = dumps(provenance), message.encode()
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
        file.flush()
        code = _schema.STATUS_CODES[status]
        _write_rows(file, _schema.RESULT_MARKER, r, np.array([code], dtype=np.int8))
        file.flush()
        index.n_results += 1
        index.latest[row] = r
        index.status[row] = code
        if forces_start >= 0:
            index.force_end += n_atoms
        index.text_end += len(provenance_blob) + len(message_blob)

    # -- export --------------------------------------------------------------
    def export_extxyz(
        self,
        path: str | os.PathLike[str],
        status: str | None = keys.DONE,
        *,
        overwrite: bool = False,
    ) -> int:
        """Write snapshots to an extended XYZ file; return how many.

        Labels and provenance go into each frame's info line; ASE reads
        ``energy``, ``stress`` and ``forces`` back as a SinglePointCalculator
        and everything else into ``atoms.info``.
        """
        return _export.write_extxyz(
            self.read_atoms(status), Path(path), overwrite=overwrite
        )

    def export_ase_db(
        self,
        path: str | os.PathLike[str],
        status: str | None = keys.DONE,
        *,
        overwrite: bool = False,
    ) -> int:
        """Write snapshots to an ASE database (``.db`` or ``.json``); return how many.

        Energy, forces and stress are stored as calculator results, scalar
        labels and provenance as key-value pairs, the rest in ``data``.
        """
        return _export.write_ase_db(
            self.read_atoms(status), Path(path), overwrite=overwrite
        )
