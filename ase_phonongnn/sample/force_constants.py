"""Harmonic force constants from finite displacements with any ASE calculator."""

from __future__ import annotations

import lzma
import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from numpy.typing import ArrayLike
from phonopy import Phonopy
from tqdm.auto import tqdm

from ase_phonongnn.sample._phonopy import make_phonopy, to_ase_atoms


def compute_force_constants(
    atoms: Atoms,
    supercell_matrix: ArrayLike,
    calculator: Calculator | Callable[[], Calculator],
    distance: float = 0.01,
    plus_minus: bool | Literal["auto"] = "auto",
    progress: bool = True,
) -> Phonopy:
    """Compute harmonic force constants by phonopy's finite-displacement method.

    Parameters
    ----------
    atoms
        Unit cell (used as the primitive cell).
    supercell_matrix
        Integer supercell matrix, shape (3, 3) or (3,).
    calculator
        An ASE calculator, or a zero-argument factory that returns one. A
        factory gets a fresh calculator per displaced supercell.
    distance
        Displacement amplitude in Å.
    plus_minus
        phonopy's ``is_plusminus`` ("auto", True or False).
    progress
        Show a progress bar.

    Returns
    -------
    Phonopy
        With dataset, forces and symmetrised force constants set; save it with
        ``phonon.save("phonopy_params.yaml", settings={"force_constants": True})``.
    """
    if distance <= 0:
        raise ValueError(f"distance must be positive in Å (got {distance})")
    phonon = make_phonopy(atoms, supercell_matrix)
    phonon.generate_displacements(distance=distance, is_plusminus=plus_minus)
    forces = []
    for cell in tqdm(
        phonon.supercells_with_displacements,
        desc="finite displacements",
        disable=not progress,
    ):
        supercell = to_ase_atoms(cell)
        supercell.calc = (
            calculator()
            if callable(calculator) and not isinstance(calculator, Calculator)
            else calculator
        )
        forces.append(supercell.get_forces())
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()
    return phonon


def save_phonopy(phonon: Phonopy, path: str | Path) -> Path:
    """Write ``phonon`` as phonopy_params.yaml with force constants inside.

    Parameters
    ----------
    phonon
        Phonopy object with force constants.
    path
        File to write; a name ending in ``.xz`` (``NAME_params.yaml.xz``) is
        written xz-compressed, which ``phonopy.load`` reads as it is.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix != ".xz":
        phonon.save(str(path), settings={"force_constants": True})
        return path
    # phonopy writes plain YAML only: write it beside the target, then compress
    plain = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
    try:
        phonon.save(str(plain), settings={"force_constants": True})
        path.write_bytes(lzma.compress(plain.read_bytes(), preset=9))
    finally:
        plain.unlink(missing_ok=True)
    return path
