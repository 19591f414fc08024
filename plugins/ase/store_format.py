"""The ``phonongnn-store`` file format of ``ase.io``: snapshot stores.

Registered through the ``ase.ioformats`` entry point group, which
``ase.io.formats`` reads when it is imported (ASE's stable mechanism for
external file formats): ``ase.io.read("store.h5", ":")`` returns the
snapshots of a :class:`~ase_phonongnn.SnapshotStore`, and
``ase.io.write("new.h5", images)`` creates a store of pending snapshots
(ready for ``phonongnn label``). Files ending in ``.h5``/``.hdf5`` are taken
to be stores; pass ``format="phonongnn-store"`` for other names.

This module is imported while ASE loads its format table, so it imports
nothing heavy (and nothing from ``ase.io``) until a file is read or written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Final

from ase import Atoms
from ase.utils.plugins import ExternalIOFormat

from ase_phonongnn import keys

#: Format name in ``ase.io`` (the entry point name in setup.cfg).
FORMAT_NAME: Final = "phonongnn-store"

#: What ASE registers: multi-image (``+``), needs a file name (``S``).
SNAPSHOT_STORE_FORMAT: Final = ExternalIOFormat(
    desc="ase_phonongnn snapshot store (HDF5)",
    code="+S",
    module="ase_phonongnn_plugins.ase.store_format",
    ext=["h5", "hdf5"],
)


def read_phonongnn_store(
    filename: str | os.PathLike[str],
    index: int | slice | None = None,
    status: str | None = None,
) -> Iterator[Atoms]:
    """Yield snapshots of a store, as ``ase.io.read``/``iread`` ask.

    Parameters
    ----------
    filename
        The store.
    index
        Rows to read (``ase.io`` passes a slice; None reads all).
    status
        Only snapshots with this labelling status (``"done"``, ``"failed"``,
        ``"pending"``); None for all. Pass it through ``ase.io.read(...,
        status="done")``.

    Yields
    ------
    Atoms
        With labels and provenance in ``atoms.info`` and forces in
        ``atoms.arrays`` (see :meth:`SnapshotStore.read_atoms`); a labelled
        snapshot also carries a ``SinglePointCalculator`` with its energy,
        forces and stress, as ``ase.io`` readers of labelled files do.
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    from ase_phonongnn.store import SnapshotStore

    with SnapshotStore.open(filename) as store:
        rows = store.indices(status)
        if index is None:
            chosen = rows
        elif isinstance(index, int):
            chosen = rows[[index]]
        else:
            chosen = rows[index]
        for row in chosen:
            atoms = store[int(row)]
            results = {
                key: atoms.info[key]
                for key in (keys.ENERGY, keys.STRESS)
                if key in atoms.info
            }
            if keys.FORCES in atoms.arrays:
                results[keys.FORCES] = atoms.arrays[keys.FORCES]
            if results:
                atoms.calc = SinglePointCalculator(atoms, **results)
            yield atoms


def write_phonongnn_store(
    filename: str | os.PathLike[str],
    images: Atoms | Sequence[Atoms],
    append: bool = False,
) -> None:
    """Write structures into a store as pending snapshots.

    Parameters
    ----------
    filename
        The store; a new file unless ``append``.
    images
        Structures; their JSON-representable ``atoms.info`` is kept.
    append
        Add to an existing store (``ase.io.write(..., append=True)``).
    """
    from ase_phonongnn.store import SnapshotStore

    frames = [images] if isinstance(images, Atoms) else list(images)
    if append and os.path.exists(filename):
        store = SnapshotStore.open(filename, mode="a")
    else:
        store = SnapshotStore.create(filename)
    with store:
        store.add(frames)
