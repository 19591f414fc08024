"""On-disk layout of a snapshot store, its format version and migrations.

A store is one HDF5 file. Every dataset grows along its first axis, is
chunked, and is appended to, never rewritten: a snapshot's structure is
appended once, and each labelling attempt appends a result row. The newest
result row of a snapshot is its label. The structures, written in bulk, are
compressed; the per-record columns are not (see :class:`Column`).

Layout of format version 1::

    /                     attrs: format, format_version, units (JSON), creator
    /snapshots/           one row per structure
        n_atoms   (n,)      int32
        atom_start (n,)     int64   first row of the structure in /atoms
        cell      (n, 3, 3) float64 Å
        pbc       (n, 3)    bool
        info      (n, 2)    int64   [start, length] of the JSON info in /text
        hash      (n,)      S64     content hash; written last (commit marker)
    /atoms/               the structures' atoms, concatenated
        numbers   (N,)      int32
        positions (N, 3)    float64 Å
    /results/             one row per labelling attempt
        labels    (k, 11)   float64 energy, energy_per_atom, band_gap, vbm,
                                    hydrostatic_stress, stress (Voigt xx yy zz
                                    yz xz xy); attribute ``columns`` names them
        refs      (k, 6)    int64   snapshot row, first row in /result_atoms
                                    (−1 without forces), [start, length] of the
                                    JSON provenance and of the failure message
                                    in /text; attribute ``columns``
        status    (k,)      int8    1 done, 2 failed; written last (commit marker)
    /result_atoms/
        forces    (M, 3)    float64 eV/Å
    /text/
        bytes     (B,)      uint8   UTF-8 text referenced by [start, length] pairs

Missing labels are NaN. A row counts only once its commit marker is written;
anything after the first unwritten marker is an interrupted write and is
overwritten by the next one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import h5py
import numpy as np

from ase_phonongnn import keys
from ase_phonongnn._version import __version__
from ase_phonongnn.errors import StoreError, StoreFormatError

#: Value of the root attribute ``format``.
FORMAT_NAME: Final = "ase-phonongnn-snapshot-store"
#: Integer version of the layout; bump it with a migration in :data:`MIGRATIONS`.
FORMAT_VERSION: Final = 1

#: Units of every stored quantity (root attribute ``units``, JSON).
UNITS: Final = {**keys.UNITS, "positions": "Ang", "cell": "Ang"}

#: HDF5 library version bounds: v110 is the oldest format that supports SWMR.
LIBVER: Final = ("v110", "latest")

#: Status codes of /results/status (0 is the fill value: not written).
STATUS_CODES: Final = {keys.DONE: 1, keys.FAILED: 2}

#: Columns of /results/labels: the scalar labels, then the stress components.
LABEL_COLUMNS: Final = (
    *keys.SCALAR_LABELS,
    *(f"{keys.STRESS}_{c}" for c in ("xx", "yy", "zz", "yz", "xz", "xy")),
)
#: Columns of /results/refs.
REF_COLUMNS: Final = (
    "snapshot",
    "forces_start",
    "provenance_start",
    "provenance_length",
    "message_start",
    "message_length",
)

#: Migration steps: ``MIGRATIONS[v](file)`` turns format v into v + 1 in place.
MIGRATIONS: dict[int, Callable[[h5py.File], None]] = {}


@dataclass(frozen=True)
class Column:
    """One growing dataset of the layout.

    Parameters
    ----------
    path
        Path of the dataset in the file.
    row_shape
        Shape of one row (the dataset has shape ``(n, *row_shape)``).
    dtype
        numpy dtype string.
    fill
        Value of rows that were allocated but never written.
    chunk_rows
        Rows per HDF5 chunk.
    compressed
        gzip the chunks. Only for columns written in bulk (by
        ``SnapshotStore.add``): a compressed chunk that is rewritten moves to
        new space, and in SWMR mode HDF5 does not reuse the old space during
        the session, so a column written one record at a time would grow the
        file by a partial chunk per record (measured: 57 MB instead of 2.8 MB
        for 2000 40-atom records). Uncompressed chunks are rewritten in place.
    """

    path: str
    row_shape: tuple[int, ...]
    dtype: str
    fill: Any
    chunk_rows: int
    compressed: bool = True


_NAN = float("nan")

#: Every dataset of format version 1.
COLUMNS: Final = (
    Column("snapshots/n_atoms", (), "int32", 0, 512),
    Column("snapshots/atom_start", (), "int64", 0, 512),
    Column("snapshots/cell", (3, 3), "float64", _NAN, 512),
    Column("snapshots/pbc", (3,), "bool", False, 512),
    Column("snapshots/info", (2,), "int64", 0, 512),
    Column("snapshots/hash", (), "S64", b"", 512),
    Column("atoms/numbers", (), "int32", 0, 4096),
    Column("atoms/positions", (3,), "float64", _NAN, 2048),
    Column(
        "results/labels", (len(LABEL_COLUMNS),), "float64", _NAN, 512, compressed=False
    ),
    Column("results/refs", (len(REF_COLUMNS),), "int64", -1, 512, compressed=False),
    Column("results/status", (), "int8", 0, 512, compressed=False),
    Column("result_atoms/forces", (3,), "float64", _NAN, 2048, compressed=False),
    Column("text/bytes", (), "uint8", 0, 16384, compressed=False),
)
COLUMNS_BY_PATH: Final = {column.path: column for column in COLUMNS}

#: Commit markers: a row of the group exists once this column holds it.
SNAPSHOT_MARKER: Final = "snapshots/hash"
RESULT_MARKER: Final = "results/status"


def create_layout(file: h5py.File) -> None:
    """Write the root attributes and the empty datasets of the current format."""
    file.attrs["format"] = FORMAT_NAME
    file.attrs["format_version"] = FORMAT_VERSION
    file.attrs["units"] = json.dumps(UNITS, sort_keys=True)
    file.attrs["creator"] = f"ase-phonongnn {__version__}"
    for column in COLUMNS:
        file.create_dataset(
            column.path,
            shape=(0, *column.row_shape),
            maxshape=(None, *column.row_shape),
            dtype=np.dtype(column.dtype),
            chunks=(column.chunk_rows, *column.row_shape),
            compression="gzip" if column.compressed else None,
            compression_opts=4 if column.compressed else None,
            shuffle=column.compressed,
            fillvalue=column.fill,
        )
    file["results/labels"].attrs["columns"] = json.dumps(LABEL_COLUMNS)
    file["results/refs"].attrs["columns"] = json.dumps(REF_COLUMNS)


def check_format(file: h5py.File, path: str) -> int:
    """Return the format version of an open store, or raise a clear error.

    Parameters
    ----------
    file
        The open HDF5 file.
    path
        Its path, for messages.

    Raises
    ------
    StoreFormatError
        The file is not a snapshot store, or was written by a newer version of
        ase-phonongnn.
    """
    try:
        name = file.attrs.get("format")
    except (KeyError, OSError, RuntimeError, ValueError) as err:
        raise StoreError(
            f"{path} is a damaged HDF5 file: its root attributes cannot be read ({err})"
        ) from err
    if isinstance(name, bytes):
        name = name.decode()
    if name != FORMAT_NAME:
        raise StoreFormatError(
            f"{path} is an HDF5 file but not an ase-phonongnn snapshot store "
            f"(root attribute format={name!r}, expected {FORMAT_NAME!r})"
        )
    try:
        version = int(file.attrs["format_version"])
    except (KeyError, TypeError, ValueError, OSError, RuntimeError) as err:
        raise StoreFormatError(
            f"{path} has no integer format_version attribute; the store is damaged"
        ) from err
    if version > FORMAT_VERSION:
        raise StoreFormatError(
            f"{path} has store format_version {version}, newer than the "
            f"{FORMAT_VERSION} this ase-phonongnn {__version__} reads: "
            "upgrade ase-phonongnn (pip install -U ase-phonongnn)"
        )
    if version < 1:
        raise StoreFormatError(f"{path} has an invalid format_version {version}")
    return version


def migrate(file: h5py.File, path: str) -> None:
    """Bring a store opened for writing up to :data:`FORMAT_VERSION`.

    Each step of :data:`MIGRATIONS` turns version v into v + 1; the version
    attribute is updated after every step, so an interrupted migration resumes
    where it stopped.
    """
    version = check_format(file, path)
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise StoreFormatError(
                f"{path} has store format_version {version} and no migration to "
                f"{version + 1} exists; re-create the store from its snapshots"
            )
        step(file)
        version += 1
        file.attrs["format_version"] = version
        file.flush()
