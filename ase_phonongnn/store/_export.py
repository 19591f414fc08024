"""Export of stored snapshots to extended XYZ and ASE databases."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ase.db
import ase.io
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.db.core import check as check_key_value_pairs

from ase_phonongnn import keys
from ase_phonongnn._json import to_jsonable


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} exists: choose another name or pass overwrite=True"
        )


def write_extxyz(
    snapshots: Sequence[Atoms], path: Path, *, overwrite: bool = False
) -> int:
    """Write ``snapshots`` (labels in info, forces in arrays) to an extxyz file."""
    _refuse_existing(path, overwrite)
    ase.io.write(path, list(snapshots), format="extxyz")
    return len(snapshots)


def _db_row(atoms: Atoms) -> tuple[Atoms, dict[str, Any], dict[str, Any]]:
    """Split a stored snapshot into calculator results, key-value pairs and data."""
    plain = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    results = {
        key: atoms.info[key] for key in (keys.ENERGY, keys.STRESS) if key in atoms.info
    }
    if keys.FORCES in atoms.arrays:
        results[keys.FORCES] = atoms.arrays[keys.FORCES]
    if results:
        plain.calc = SinglePointCalculator(plain, **results)
    key_value_pairs: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for key, value in atoms.info.items():
        if key in results:
            continue
        try:
            with warnings.catch_warnings():
                # keys that read as chemical formulas only warn
                warnings.simplefilter("ignore")
                check_key_value_pairs({key: value})
            key_value_pairs[key] = value
        except ValueError:
            data[key] = to_jsonable(value)
    return plain, key_value_pairs, data


def write_ase_db(
    snapshots: Sequence[Atoms], path: Path, *, overwrite: bool = False
) -> int:
    """Write ``snapshots`` to an ASE database; non-scalar info goes to ``data``."""
    _refuse_existing(path, overwrite)
    path.unlink(missing_ok=True)
    with ase.db.connect(path, append=False) as db:
        for atoms in snapshots:
            plain, key_value_pairs, data = _db_row(atoms)
            db.write(plain, key_value_pairs=key_value_pairs, data=data)
    return len(snapshots)
