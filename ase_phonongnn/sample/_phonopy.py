"""Conversions between ASE and phonopy, and phonopy objects from any source."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray
from phonopy import Phonopy
from phonopy.structure.atoms import PhonopyAtoms

from ase_phonongnn.errors import ForceConstantsError


def to_phonopy_atoms(atoms: Atoms) -> PhonopyAtoms:
    """Return ``atoms`` as a :class:`PhonopyAtoms` (cell, positions, masses)."""
    return PhonopyAtoms(
        symbols=atoms.get_chemical_symbols(),
        cell=np.array(atoms.cell.array),
        scaled_positions=atoms.get_scaled_positions(wrap=False),
        masses=atoms.get_masses(),
    )


def to_ase_atoms(cell: PhonopyAtoms) -> Atoms:
    """Return a periodic :class:`ase.Atoms` with the cell, positions and masses."""
    return Atoms(
        symbols=list(cell.symbols),
        cell=np.array(cell.cell),
        scaled_positions=np.array(cell.scaled_positions),
        masses=np.array(cell.masses),
        pbc=True,
    )


def make_phonopy(
    atoms: Atoms,
    supercell_matrix: ArrayLike,
    force_constants: NDArray[np.float64] | None = None,
    *,
    symmetry: bool = True,
) -> Phonopy:
    """Return a :class:`Phonopy` for a unit cell, supercell matrix and force constants.

    The unit cell is used as the primitive cell (``primitive_matrix`` is given
    explicitly, never guessed).

    Parameters
    ----------
    atoms
        Unit cell.
    supercell_matrix
        Integer matrix, shape (3, 3), or diagonal, shape (3,).
    force_constants
        Full (n_sc, n_sc, 3, 3) or compact (n_unit, n_sc, 3, 3), eV/Å².
    symmetry
        Let phonopy search the crystal's symmetry (False skips the search,
        e.g. for a disordered cell with next to none).
    """
    matrix = np.asarray(supercell_matrix)
    if matrix.shape == (3,):
        matrix = np.diag(matrix)
    if matrix.shape != (3, 3) or not np.allclose(matrix, np.rint(matrix)):
        raise ValueError(
            "supercell_matrix must be an integer 3x3 matrix or 3 integers "
            f"(got {np.asarray(supercell_matrix).tolist()})"
        )
    if abs(np.linalg.det(matrix)) < 0.5:
        raise ValueError(f"supercell_matrix is singular (got {matrix.tolist()})")
    phonon = Phonopy(
        to_phonopy_atoms(atoms),
        supercell_matrix=np.rint(matrix).astype(int),
        primitive_matrix=np.eye(3),
        is_symmetry=symmetry,
    )
    if force_constants is not None:
        set_force_constants(phonon, force_constants)
    return phonon


def set_force_constants(phonon: Phonopy, force_constants: ArrayLike) -> None:
    """Set force constants on ``phonon`` after checking their shape."""
    fc = np.asarray(force_constants, dtype=float)
    n_sc = len(phonon.supercell)
    n_prim = len(phonon.primitive)
    if fc.shape not in ((n_sc, n_sc, 3, 3), (n_prim, n_sc, 3, 3)):
        raise ForceConstantsError(
            f"force_constants have shape {fc.shape}, but the supercell has {n_sc} "
            f"atoms: expected ({n_sc}, {n_sc}, 3, 3) or compact ({n_prim}, {n_sc}, "
            "3, 3); check supercell_matrix"
        )
    phonon.force_constants = fc


def load_phonopy(source: Phonopy | str | Path) -> Phonopy:
    """Return a :class:`Phonopy` with force constants from an object or a file.

    Parameters
    ----------
    source
        A Phonopy object, or a phonopy_params.yaml / phonopy.yaml path
        (force constants inside the file, or fitted from its dataset).
    """
    if isinstance(source, Phonopy):
        phonon = source
    else:
        import phonopy

        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"phonopy file not found: {path}")
        phonon = phonopy.load(str(path), produce_fc=True, log_level=0)
    if phonon.force_constants is None:
        raise ForceConstantsError(
            "the phonopy object has no force constants: run "
            "phonon.produce_force_constants() or load a phonopy_params.yaml "
            "that contains forces or force constants"
        )
    return phonon


def full_force_constants(phonon: Phonopy) -> NDArray[np.float64]:
    """Return the force constants of ``phonon`` as (n_sc, n_sc, 3, 3), eV/Å²."""
    from phonopy.harmonic.force_constants import compact_fc_to_full_fc

    fc = np.asarray(phonon.force_constants, dtype=float)
    if fc.shape[0] != fc.shape[1]:
        fc = compact_fc_to_full_fc(phonon.primitive, fc)
    return fc


def force_constants_digest(force_constants: NDArray[np.float64], atoms: Atoms) -> str:
    """Return a short sha256 digest of force constants and their supercell."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(force_constants, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(atoms.numbers, dtype=np.int64).tobytes())
    digest.update(np.round(atoms.cell.array, 8).tobytes())
    return digest.hexdigest()[:16]
