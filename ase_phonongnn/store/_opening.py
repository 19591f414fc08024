"""Creating, opening and closing a store file in read or append mode.

Opening for reading checks the format and refuses an older one; opening for
appending migrates an older format and repairs a file whose writer was
killed; closing a writer compacts a file that SWMR writing has grown. The
caller holds the writer lock (:class:`._hdf5.WriterLock`) for everything but
reading.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from ase_phonongnn.errors import StoreFormatError
from ase_phonongnn.store import _hdf5, _schema
from ase_phonongnn.store._records import StoreIndex

#: Bytes of unused file space tolerated before a writer compacts on closing.
_COMPACT_SLACK = 1 << 20


def create_file(path: Path, *, overwrite: bool) -> None:
    """Write an empty store at ``path`` atomically (an existing one needs overwrite)."""
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} exists: add to it with SnapshotStore.open(path, "
            "mode='a'), or pass overwrite=True to replace it"
        )
    temporary = path.with_name(f"{path.name}.create-{os.getpid()}")
    try:
        with _hdf5.new_file(temporary) as file:
            _schema.create_layout(file)
        _hdf5.replace_atomically(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _indexed(file: h5py.File, path: Path) -> tuple[h5py.File, StoreIndex]:
    """Return ``file`` with its index; close it if the index cannot be read."""
    try:
        return file, StoreIndex.from_file(file, str(path))
    except BaseException:
        file.close()
        raise


def open_for_reading(path: Path) -> tuple[h5py.File, StoreIndex]:
    """Open a store of the current format read-only; return it and its index.

    Raises
    ------
    StoreFormatError
        The file is not a store, or its format is older or newer than
        :data:`._schema.FORMAT_VERSION`.
    """
    file = _hdf5.open_reader(path)
    try:
        version = _schema.check_format(file, str(path))
        if version < _schema.FORMAT_VERSION:
            raise StoreFormatError(
                f"{path} has the older store format_version {version}; "
                "open it once with mode='a' to migrate it to "
                f"{_schema.FORMAT_VERSION}"
            )
    except BaseException:
        file.close()
        raise
    return _indexed(file, path)


def open_for_appending(path: Path) -> tuple[h5py.File, StoreIndex]:
    """Open a store for appending; return it and its index.

    An older format is migrated first, and a file left open by a killed
    writer is rewritten from its committed records.
    """
    with _hdf5.open_reader(path) as file:
        version = _schema.check_format(file, str(path))
    if version < _schema.FORMAT_VERSION:
        with _hdf5.open_plain_writer(path) as file:
            _schema.migrate(file, str(path))
    try:
        file = _hdf5.open_writer(path)
    except OSError as err:
        if not _hdf5.left_open(err):
            raise _hdf5.damaged(path, err) from err
        _hdf5.rewrite(path)
        file = _hdf5.open_writer(path)
    return _indexed(file, path)


def close_writer(file: h5py.File, path: Path) -> None:
    """Close a store opened for appending, compacting it if mostly unused.

    Many small appends rewrite compressed chunks, which SWMR writing does not
    reuse: a file holding more than twice its data (plus a slack) is
    rewritten.
    """
    compact = False
    if file.id.valid:
        used = sum(
            file[column.path].id.get_storage_size() for column in _schema.COLUMNS
        )
        compact = os.path.getsize(path) > 2 * used + _COMPACT_SLACK
    file.close()
    if compact:
        _hdf5.rewrite(path)
