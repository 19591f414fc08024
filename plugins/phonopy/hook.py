"""The phonopy hook: thermal displacement datasets for a phonopy object.

Translation only: the sampling is :class:`ase_phonongnn.PhononSampler`; this
module puts its snapshots into phonopy's own dataset and file writers, so a
phonopy user keeps their workflow (``phonon.dataset``, ``phonopy_disp.yaml``,
POSCAR-001 / supercell-001.in / ... for every calculator phonopy supports).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phonopy import Phonopy

from ase_phonongnn.sample import PhononSampler


def thermal_displacement_dataset(
    phonon: Phonopy | str | Path,
    temperature: float,
    n_snapshots: int,
    method: str = "normal-mode",
    **options: Any,
) -> dict[str, Any]:
    """Return a phonopy type-II dataset of thermal displacements.

    Parameters
    ----------
    phonon
        Phonopy object with force constants, or a phonopy_params.yaml path.
    temperature
        K.
    n_snapshots
        Number of displaced supercells.
    method
        "paper", "normal-mode", "zg" or "random".
    **options
        Keyword options of :meth:`PhononSampler.sample` (statistics,
        imaginary, amplitude, plus_minus, min_distance, seed).

    Returns
    -------
    dict
        ``{"displacements": (n_snapshots, N, 3) array in Å}``; assign it to
        ``phonon.dataset``.
    """
    sampler = _sampler(phonon)
    snapshots = sampler.sample(temperature, n_snapshots, method, **options)
    return sampler.dataset(snapshots)


def write_thermal_supercells(
    phonon: Phonopy | str | Path,
    temperature: float,
    n_snapshots: int,
    interface_mode: str = "vasp",
    out_dir: str | Path = ".",
    method: str = "normal-mode",
    **options: Any,
) -> Phonopy:
    """Write thermally displaced supercells in any format phonopy writes.

    Parameters
    ----------
    phonon
        Phonopy object with force constants, or a phonopy_params.yaml path.
    temperature, n_snapshots, method, **options
        As :func:`thermal_displacement_dataset`.
    interface_mode
        phonopy's calculator interface: "vasp", "qe", "abinit", "aims", ...
    out_dir
        Directory for the supercell files and ``phonopy_disp.yaml``.

    Returns
    -------
    Phonopy
        A new Phonopy object of the same supercell with the dataset set.
    """
    from phonopy.interface.calculator import write_supercells_with_displacements
    from phonopy.physical_units import get_calculator_physical_units
    from phonopy.structure.atoms import PhonopyAtoms

    source = _phonopy(phonon)
    dataset = thermal_displacement_dataset(
        source, temperature, n_snapshots, method, **options
    )
    # The sampler works in Å; phonopy's writers expect the calculator's length
    # unit (bohr for QE and ABINIT, for instance).
    to_unit = 1.0 / get_calculator_physical_units(interface_mode).distance_to_A
    dataset["displacements"] = dataset["displacements"] * to_unit
    unitcell = PhonopyAtoms(
        symbols=source.unitcell.symbols,
        cell=source.unitcell.cell * to_unit,
        scaled_positions=source.unitcell.scaled_positions,
        masses=source.unitcell.masses,
    )
    displaced = Phonopy(
        unitcell,
        supercell_matrix=source.supercell_matrix,
        primitive_matrix=source.primitive_matrix,
        calculator=interface_mode,
    )
    displaced.displacements = dataset["displacements"]
    cells = displaced.supercells_with_displacements
    assert cells is not None  # generated from the displacements just set
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(out):
        write_supercells_with_displacements(
            interface_mode,
            displaced.supercell,
            cells,
        )
        displaced.save("phonopy_disp.yaml")
    return displaced


def _phonopy(phonon: Phonopy | str | Path) -> Phonopy:
    if isinstance(phonon, Phonopy):
        return phonon
    import phonopy

    return phonopy.load(str(phonon), produce_fc=True, log_level=0)


def _sampler(phonon: Phonopy | str | Path) -> PhononSampler:
    if isinstance(phonon, Phonopy):
        return PhononSampler.from_phonopy(phonon)
    return PhononSampler.from_file(phonon)


__all__: Sequence[str] = ["thermal_displacement_dataset", "write_thermal_supercells"]
