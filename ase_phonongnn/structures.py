"""Crystal structures of the Ag3SBr family used throughout the package.

Cubic antiperovskites Ag3SX (X = Br, I), space group Pm-3m: S at the centre of
the Ag6 octahedron (½,½,½), Ag at the face centres, the halogen at the corner.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
from ase import Atoms
from ase.data import atomic_masses

from ase_phonongnn import keys

#: Atomic numbers of the halogen sites.
BROMINE: Final = 35
IODINE: Final = 53
#: Cubic lattice parameters in Å (PAPER.md).
LATTICE_PARAMETERS: Final = {"Br": 4.793, "I": 4.869}


def vegard_lattice_parameter(bromine_fraction: float) -> float:
    """Lattice parameter of Ag3SBr_x I_(1-x) by Vegard's law, in Å.

    Parameters
    ----------
    bromine_fraction
        x, the fraction of halogen sites occupied by Br, in [0, 1].
    """
    if not 0.0 <= bromine_fraction <= 1.0:
        raise ValueError(f"bromine_fraction must be in [0, 1] (got {bromine_fraction})")
    x = float(bromine_fraction)
    return x * LATTICE_PARAMETERS["Br"] + (1.0 - x) * LATTICE_PARAMETERS["I"]


_SOLID_SOLUTION: Final = re.compile(r"Ag3SBr(\d*\.?\d+)I(\d*\.?\d+)")


def bromine_fraction(material: str) -> float:
    """Return the bromine fraction x of a family member named by its formula.

    Parameters
    ----------
    material
        "Ag3SBr", "Ag3SI" or a solid solution "Ag3SBr<x>I<1-x>", e.g.
        "Ag3SBr0.25I0.75".

    Examples
    --------
    >>> bromine_fraction("Ag3SBr0.25I0.75")
    0.25
    """
    end_members = {"Ag3SBr": 1.0, "Ag3SI": 0.0}
    if material in end_members:
        return end_members[material]
    match = _SOLID_SOLUTION.fullmatch(material)
    if match is not None:
        x, y = (float(v) for v in match.groups())
        if x <= 1.0 and abs(x + y - 1.0) < 1e-9:
            return x
    raise ValueError(
        "material must be Ag3SBr, Ag3SI or Ag3SBr<x>I<1-x> with 0 <= x <= 1, "
        f"e.g. Ag3SBr0.5I0.5 (got {material!r})"
    )


def antiperovskite(halogen: str = "Br", a: float | None = None) -> Atoms:
    """Return the 5-atom cubic unit cell of Ag3SX.

    Parameters
    ----------
    halogen
        "Br" or "I".
    a
        Lattice parameter in Å (default: :data:`LATTICE_PARAMETERS`).

    Returns
    -------
    Atoms
        Order X, S, Ag, Ag, Ag; fractional positions (0,0,0), (½,½,½),
        (½,½,0), (½,0,½), (0,½,½).
    """
    if halogen not in LATTICE_PARAMETERS:
        raise ValueError(
            f"halogen must be one of {sorted(LATTICE_PARAMETERS)} (got {halogen!r})"
        )
    a = LATTICE_PARAMETERS[halogen] if a is None else float(a)
    if a <= 0:
        raise ValueError(f"a must be positive in Å (got {a})")
    scaled = [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
    return Atoms(
        [halogen, "S", "Ag", "Ag", "Ag"],
        scaled_positions=scaled,
        cell=np.eye(3) * a,
        pbc=True,
    )


def solid_solution(
    bromine_fraction: float,
    repeat: tuple[int, int, int] = (2, 2, 2),
    rng: np.random.Generator | None = None,
) -> Atoms:
    """Return a supercell of Ag3SBr_x I_(1-x) with a random Br/I occupation.

    Parameters
    ----------
    bromine_fraction
        x in [0, 1]; the number of Br sites is round(x * n_halogen_sites).
    repeat
        Supercell repetitions of the unit cell.
    rng
        Random generator that draws the occupation (default: a fresh one).

    Returns
    -------
    Atoms
        The supercell at the Vegard lattice parameter, with
        ``info["bromine_fraction"]`` set to the realised fraction.
    """
    vegard_lattice_parameter(bromine_fraction)  # checks the range
    atoms = antiperovskite("Br").repeat(repeat)
    n_halogen = int(np.count_nonzero(atoms.numbers == BROMINE))
    return substitute_iodine(
        atoms, n_halogen - round(bromine_fraction * n_halogen), rng
    )


def substitute_iodine(
    atoms: Atoms, n_iodine: int, rng: np.random.Generator | None = None
) -> Atoms:
    """Return a copy of an Ag3SBr_x I_(1-x) structure with more Br sites made I.

    The sites are drawn at random among the Br sites; the cell is scaled from
    the Vegard lattice parameter of the old composition to that of the new
    one, keeping the fractional coordinates, so a displaced (thermal)
    structure keeps its displacement pattern.

    Parameters
    ----------
    atoms
        Structure of the family (halogen sites Br or I), e.g. an Ag3SBr
        snapshot.
    n_iodine
        Number of Br sites to make I, at most the number of Br sites.
    rng
        Random generator that draws the sites (default: a fresh one).

    Returns
    -------
    Atoms
        The new structure, with ``info["bromine_fraction"]`` set; the new
        I sites carry iodine's mass where ``atoms`` has explicit masses.
    """
    bromine = np.flatnonzero(atoms.numbers == BROMINE)
    n_halogen = bromine.size + int(np.count_nonzero(atoms.numbers == IODINE))
    if n_halogen == 0:
        raise ValueError("atoms has no halogen (Br or I) sites")
    if not 0 <= n_iodine <= bromine.size:
        raise ValueError(
            f"n_iodine must be in [0, {bromine.size}], the Br sites of atoms "
            f"(got {n_iodine})"
        )
    rng = np.random.default_rng() if rng is None else rng
    new: Atoms = atoms.copy()
    numbers = new.numbers.copy()
    sites = rng.permutation(bromine)[:n_iodine]
    numbers[sites] = IODINE
    new.numbers = numbers
    if "masses" in new.arrays:  # explicit masses (e.g. phonopy's) do not follow Z
        masses = new.get_masses()
        masses[sites] = atomic_masses[IODINE]
        new.set_masses(masses)
    old_x = bromine.size / n_halogen
    new_x = (bromine.size - n_iodine) / n_halogen
    scale = vegard_lattice_parameter(new_x) / vegard_lattice_parameter(old_x)
    new.set_cell(new.cell.array * scale, scale_atoms=True)
    new.info[keys.BROMINE_FRACTION] = new_x
    return new
