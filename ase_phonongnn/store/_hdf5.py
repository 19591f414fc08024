"""Opening store files safely: readers, the single writer, crash recovery.

Why the store survives SIGKILL
------------------------------
The writer opens the file in HDF5's single-writer/multiple-reader (SWMR) mode.
SWMR orders the flushes of HDF5's metadata so that the file on disk is always
a valid HDF5 file; that is what lets readers in other processes follow a file
that is being written, and it equally means that a writer killed at any
instant leaves a readable file (h5py documents this "added benefit"). On top
of that, every record is written in two flushed steps, the data first and a
commit-marker column last (see :mod:`._schema`), so a record is either
complete or ignored.

A killed SWMR writer leaves the superblock's "open for writing" flags set, and
HDF5 then refuses to open the file for writing again (``h5clear -s`` would
clear them). The next writer therefore copies the committed rows into a fresh
file and atomically replaces the old one (:func:`rewrite`); readers are not
affected, since the flags allow SWMR reading.

HDF5's own file locks are released by a SWMR writer, so they cannot tell a
crashed writer from a running one. The writer holds an exclusive ``flock`` on
``<store>.lock`` instead; the kernel drops it when the process dies.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import time
from pathlib import Path

import h5py
from h5py import h5f, h5p

from ase_phonongnn.errors import StoreError
from ase_phonongnn.store import _schema
from ase_phonongnn.store._records import StoreIndex

#: Rows copied at a time during recovery (bounds memory).
_COPY_BLOCK = 1 << 20
#: Opens of a file that looks truncated, over this many seconds in all.
_GROWING_ATTEMPTS = 6
_GROWING_WAIT_S = 0.5


def damaged(path: Path, err: Exception) -> StoreError:
    """Return the error for a file HDF5 cannot open: not HDF5, or damaged."""
    if not h5py.is_hdf5(path):
        return StoreError(
            f"{path} is not an HDF5 file (no HDF5 signature); a snapshot store "
            "is an .h5 file written by SnapshotStore.create or 'phonongnn label'"
        )
    return StoreError(f"{path} is a damaged or truncated HDF5 file: {err}")


def open_reader(path: Path) -> h5py.File:
    """Open a store read-only; safe while another process writes it.

    A file that is not being written is first opened plainly: that checks its
    size against its superblock and fails at once on a truncated file, where
    SWMR reading would retry every damaged read many times. The handle
    returned reads in SWMR mode, which follows a store that another process
    is writing (or whose writer was killed); files without the SWMR format
    (any other HDF5 file) stay opened plainly, so that their format can be
    reported.

    A file whose superblock ends past its size is opened again a few times
    over :data:`_GROWING_WAIT_S` before it is called truncated: a writer
    may have written the new end before the bytes up to it.
    """
    for attempt in range(_GROWING_ATTEMPTS):
        try:
            plain = h5py.File(path, "r", locking=False)
            break
        except FileNotFoundError:
            raise
        except OSError as err:
            if left_open(err):
                try:
                    return h5py.File(path, "r", swmr=True, locking=False)
                except OSError as swmr_err:
                    raise damaged(path, swmr_err) from swmr_err
            if "truncated file" not in str(err) or attempt == _GROWING_ATTEMPTS - 1:
                raise damaged(path, err) from err
            time.sleep(_GROWING_WAIT_S / _GROWING_ATTEMPTS)
    try:
        swmr = h5py.File(path, "r", swmr=True, locking=False)
    except OSError:
        return plain
    plain.close()
    return swmr


def _writer_fapl() -> h5p.PropFAID:
    fapl = h5p.create(h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5f.LIBVER_V110, h5f.LIBVER_LATEST)
    # HDF5's locks are dropped in SWMR mode anyway; WriterLock guards writers.
    fapl.set_file_locking(False, True)
    return fapl


def open_writer(path: Path) -> h5py.File:
    """Open an existing store for appending, in SWMR-write mode.

    Raises
    ------
    OSError
        From HDF5, e.g. when the file was left open by a killed writer.
    """
    fid = h5f.open(
        os.fsencode(path), h5f.ACC_RDWR | h5f.ACC_SWMR_WRITE, fapl=_writer_fapl()
    )
    return h5py.File(fid)


def open_plain_writer(path: Path) -> h5py.File:
    """Open a store for structural changes (migrations), outside SWMR mode."""
    return h5py.File(path, "r+", libver=_schema.LIBVER, locking=False)


def left_open(err: OSError) -> bool:
    """Whether ``err`` is HDF5 refusing a file whose writer did not close it."""
    text = str(err)
    return "already open for write" in text or "consistency flag" in text


def new_file(path: Path) -> h5py.File:
    """Create an empty HDF5 file (which must not exist) with SWMR-capable format."""
    return h5py.File(path, "x", libver=_schema.LIBVER, locking=False)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(temporary: Path, path: Path) -> None:
    """Move a finished file over ``path`` so that readers see old or new, never half."""
    _fsync_path(temporary)
    os.replace(temporary, path)
    with contextlib.suppress(OSError):  # directories cannot be fsynced everywhere
        _fsync_path(path.parent)


def rewrite(path: Path) -> StoreIndex:
    """Copy a store's committed rows into a fresh file that replaces it atomically.

    This recovers a store left open by a killed writer (HDF5 refuses to open
    it for writing again), drops whatever a killed writer left half-written,
    and compacts a file grown by space that SWMR writing did not reuse. The
    copy goes to ``<store>.recover-<pid>``: if this too is interrupted, the
    original file is untouched. The caller holds the writer lock.

    Returns
    -------
    StoreIndex
        The index of the recovered store.
    """
    with open_reader(path) as source:
        version = _schema.check_format(source, str(path))
        if version != _schema.FORMAT_VERSION:
            raise StoreError(
                f"{path} has store format {version}, not "
                f"{_schema.FORMAT_VERSION}; open it with the ase-phonongnn "
                "version that wrote it"
            )
        index = StoreIndex.from_file(source, str(path))
        rows = {
            "snapshots": index.n_snapshots,
            "atoms": index.atom_end,
            "results": index.n_results,
            "result_atoms": index.force_end,
            "text": index.text_end,
        }
        # Leftovers of an interrupted recovery: the writer lock makes them stale.
        for stale in path.parent.glob(f"{path.name}.recover-*"):
            stale.unlink(missing_ok=True)
        temporary = path.with_name(f"{path.name}.recover-{os.getpid()}")
        try:
            with new_file(temporary) as target:
                _schema.create_layout(target)
                for key, value in source.attrs.items():
                    target.attrs[key] = value
                for column in _schema.COLUMNS:
                    n = rows[column.path.split("/")[0]]
                    src, dst = source[column.path], target[column.path]
                    dst.resize(n, axis=0)
                    for start in range(0, n, _COPY_BLOCK):
                        stop = min(n, start + _COPY_BLOCK)
                        dst[start:stop] = src[start:stop]
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    replace_atomically(temporary, path)
    return index


class WriterLock:
    """Exclusive ``flock`` on ``<store>.lock``: one writer per store.

    The lock file holds the writer's process id and host name, for the message
    that a second writer gets. The kernel releases the lock when the writer
    dies, however it dies.
    """

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`StoreError` naming its holder."""
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    # No flock on this file system: single writing is the user's care.
                    self._fd = fd
                    break
                holder = os.read(fd, 200).decode(errors="replace").strip()
                os.close(fd)
                raise StoreError(
                    f"{self.path.with_suffix('')} is being written by another "
                    f"process ({holder or 'unknown'}); a store has one writer at a "
                    "time: wait for it to finish or open the store read-only"
                ) from err
            # The file may have been unlinked by the previous holder meanwhile.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
            self._fd = fd

    def release(self) -> None:
        """Drop the lock and remove the lock file."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None
