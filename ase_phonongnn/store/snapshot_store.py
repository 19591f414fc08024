"""SnapshotStore: labelled thermal snapshots in one crash-safe HDF5 file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from ase_phonongnn import keys
from ase_phonongnn.errors import StoreError, StoreWriteError
from ase_phonongnn.store import _export, _hdf5, _opening, _reading, _writing
from ase_phonongnn.store._records import StoreIndex

#: Files (and errors) of writes that failed, never closed (see ``_writing``).
_ABANDONED: list[tuple[h5py.File | None, BaseException]] = []


def _file_state(path: Path) -> tuple[int, int, int] | None:
    """Identity, size and modification time of a file (None if it is missing)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


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
        self._failed_write: str | None = None
        self._seen: tuple[int, int, int] | None = None

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
            _opening.create_file(store._path, overwrite=overwrite)
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
            self._seen = _file_state(self._path)
            file, self._index = _opening.open_for_reading(self._path)
        else:
            if self._lock is None:
                self._lock = _hdf5.WriterLock(self._path)
                self._lock.acquire()
            try:
                file, self._index = _opening.open_for_appending(self._path)
            except BaseException:
                self.close()
                raise
        self._file, self._pid = file, os.getpid()
        return file

    def close(self) -> None:
        """Close the file (and release the writer lock); the store can be reopened.

        A writer whose file holds much more space than its data (many small
        :meth:`add` calls rewrite compressed chunks) compacts it first.
        """
        if self._file is not None and self._pid == os.getpid():
            if self._mode == "a":
                _opening.close_writer(self._file, self._path)
            else:
                self._file.close()
        self._file = None
        self._failed_write = None
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
        """Return the open file and an index including what a writer committed.

        A reader whose file changed on disk since it was opened (a writer
        appended to it, or replaced it when recovering or compacting) opens
        it again: HDF5 would go on showing the old file.
        """
        file = self._open()
        if self._mode == "r" and self._pid == os.getpid():
            if _file_state(self._path) != self._seen:
                self._file.close()  # type: ignore[union-attr]
                self._file = None
                file = self._open()
            elif file.swmr_mode:
                self._index = _reading.refresh(file, self._index, self._path)
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
        for start in range(0, n, _reading.READ_BLOCK):
            yield from self._read(np.arange(start, min(n, start + _reading.READ_BLOCK)))

    def counts(self) -> dict[str, int]:
        """Return the number of snapshots per status (done, failed, pending)."""
        return _reading.status_counts(self._current()[1])

    def indices(self, status: str | None = None) -> NDArray[np.int64]:
        """Rows of the snapshots with a given status (None: all), in store order."""
        return _reading.status_rows(self._current()[1], status)

    def content_hashes(self) -> list[str]:
        """Content hash of every snapshot, in store order."""
        index = self._current()[1]
        return sorted(index.hashes, key=index.hashes.__getitem__)

    def labellers(self, status: str = keys.DONE) -> dict[str, int]:
        """Return how many snapshots of a status each labeller labelled.

        Parameters
        ----------
        status
            ``"done"`` (default) or ``"failed"``.

        Returns
        -------
        dict
            Labeller name (the ``labeller`` entry of the provenance) -> number
            of snapshots whose newest result it made.
        """
        rows = self.indices(status)
        found: dict[str, int] = {}
        for start in range(0, rows.size, _reading.READ_BLOCK):
            for atoms in self._read(rows[start : start + _reading.READ_BLOCK]):
                labeller = str(atoms.info.get(keys.LABELLER, ""))
                found[labeller] = found.get(labeller, 0) + 1
        return found

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
        try:
            return _reading.read_rows(*self._current(), rows)
        except (
            UnicodeDecodeError,
            ValueError,
            IndexError,
            KeyError,
            OSError,
            RuntimeError,
        ) as err:
            if isinstance(err, FileNotFoundError):
                raise
            raise StoreError(
                f"{self._path} is damaged: snapshots {int(rows.min())}-"
                f"{int(rows.max())} cannot be read ({type(err).__name__}: "
                f"{str(err)[:200]}); re-create the store from its sources or "
                "restore a copy"
            ) from err

    # -- writing -------------------------------------------------------------
    def _writable(self) -> tuple[h5py.File, StoreIndex]:
        if self._mode != "a":
            raise StoreError(
                f"{self._path} is open read-only: open it with mode='a' to write"
            )
        if self._failed_write is not None:
            raise StoreWriteError(
                f"{self._path}: an earlier write failed ({self._failed_write}); "
                "close the store and open it again to go on"
            )
        return self._open(), self._index

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn HDF5's write errors into StoreWriteError; no later write is tried."""
        try:
            yield
        except StoreWriteError:
            raise
        except (OSError, RuntimeError) as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            self._failed_write = first
            # After a failed write, closing the HDF5 objects (the file, and the
            # datasets the error's frames hold) can crash HDF5: they are kept
            # open until the process ends; the committed records are on disk.
            _ABANDONED.append((self._file, err))
            self._file = None
            raise StoreWriteError(
                f"{self._path}: writing a record failed ({first}); every record "
                "before it is saved: fix the cause (e.g. free disk space) and run "
                "again to resume"
            ) from err

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
        atoms_list = _writing.checked_snapshots(snapshots)
        with self._writing():
            return _writing.add_snapshots(*self._writable(), atoms_list)

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
        _writing.check_label_keys(labels)
        with self._writing():
            _writing.append_result(
                *self._writable(), index, keys.DONE, labels, provenance or {}, ""
            )

    def write_failure(
        self, index: int, message: str, provenance: Mapping[str, Any] | None = None
    ) -> None:
        """Record that labelling snapshot ``index`` failed, and why."""
        with self._writing():
            _writing.append_result(
                *self._writable(),
                index,
                keys.FAILED,
                {},
                provenance or {},
                str(message),
            )

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
