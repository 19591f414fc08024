"""The labels of one structure from any ASE calculator.

Definitions (DESIGN.md, "Contracts"):

- ``energy`` (eV) and ``energy_per_atom`` = energy / n_atoms (eV/atom);
- ``forces`` (eV/Å), when the calculator gives them;
- ``stress``, ASE's Voigt 6-vector σ = (1/V) ∂E/∂ε in eV/Å³, positive when
  tensile, and ``hydrostatic_stress`` = (σ_xx + σ_yy + σ_zz)/3 in GPa;
- ``vbm`` (eV), the highest occupied level in the calculator's own energy
  reference, and ``band_gap`` = CBM − VBM (eV). A calculator that computes
  them itself (the GFN2-xTB labeller) is asked for them; otherwise they come
  from eigenvalues and occupation numbers over all k-points and spins
  (:func:`band_edges`). A calculator without a stress tensor may give
  ``hydrostatic_stress`` alone (the GPAW labeller in LCAO mode).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from ase.units import GPa
from numpy.typing import ArrayLike

from ase_phonongnn import keys
from ase_phonongnn.errors import LabelError

#: Errors by which ASE calculators say that they do not provide a quantity.
NOT_PROVIDED: Final = (PropertyNotImplementedError, NotImplementedError, AttributeError)

#: Relative occupation above which a level counts as occupied.
OCCUPIED: Final = 0.5
#: Relative occupations strictly between these mark a partially filled band.
PARTIAL: Final = (0.01, 0.99)


def hydrostatic_stress(stress: ArrayLike) -> Any:
    """Return the hydrostatic stress σh = tr σ / 3 in GPa (ASE sign, tensile > 0).

    Parameters
    ----------
    stress
        Voigt-6 stress (xx, yy, zz, yz, xz, xy) in eV/Å³, shape (..., 6).

    Returns
    -------
    float or ndarray
        σh in GPa, shape ``stress.shape[:-1]``.
    """
    return np.asarray(stress, dtype=np.float64)[..., :3].mean(axis=-1) / GPa


def band_edges(
    eigenvalues: ArrayLike, occupations: ArrayLike
) -> tuple[float, float, bool]:
    """Return VBM, CBM and whether the system is metallic.

    Parameters
    ----------
    eigenvalues
        Kohn–Sham (or tight-binding) eigenvalues in eV, shape
        (n_spins, n_kpoints, n_bands).
    occupations
        Occupation numbers of the same shape, in any of the usual
        normalisations (0–1, 0–2, or weighted by the k-point weight): they
        are divided by the occupation of the lowest level of their k-point and
        spin, which is always filled.

    Returns
    -------
    vbm : float
        Highest occupied eigenvalue (relative occupation > 0.5) over all
        k-points and spins, in eV.
    cbm : float
        Lowest unoccupied eigenvalue over all k-points and spins, in eV.
    metallic : bool
        True when a band is partly filled, or filled at one k-point and empty
        at another: the band gap is then 0.

    Raises
    ------
    LabelError
        No level, or every level, is occupied.

    Notes
    -----
    In a metal whose lowest band is only partly filled at some k-point the
    normalisation counts that level as filled; the band gap is 0 either way.
    """
    energies = np.asarray(eigenvalues, dtype=float)
    occ = np.asarray(occupations, dtype=float)
    if energies.ndim != 3 or occ.shape != energies.shape:
        raise ValueError(
            "eigenvalues and occupations must have the same shape (n_spins, "
            f"n_kpoints, n_bands) (got {energies.shape} and {occ.shape})"
        )
    full = occ.max(axis=-1, keepdims=True)
    relative = np.divide(occ, full, out=np.zeros_like(occ), where=full > 0)
    occupied = relative > OCCUPIED
    if not occupied.any():
        raise LabelError("no level is occupied: the occupation numbers are all zero")
    if occupied.all():
        raise LabelError(
            "every level is occupied: the calculator must include empty bands "
            "for a band gap (e.g. raise its number of bands)"
        )
    vbm = float(energies[occupied].max())
    cbm = float(energies[~occupied].min())
    partial = ((relative > PARTIAL[0]) & (relative < PARTIAL[1])).any()
    crossing = (occupied.any(axis=1) & (~occupied).any(axis=1)).any()
    return vbm, cbm, bool(partial or crossing or cbm <= vbm)


def counted_band_edges(
    eigenvalues: ArrayLike, n_electrons: float
) -> tuple[float, float]:
    """Return VBM and CBM of a spin-paired insulator by counting electrons.

    Every k-point of a non-magnetic insulator holds n_el/2 filled bands, so
    VBM = max_k ε_k[n_el/2 − 1] and CBM = min_k ε_k[n_el/2], whatever the
    smearing of the occupations (which :func:`band_edges` reads, and which
    makes a gap of a few smearing widths look partly filled).

    Parameters
    ----------
    eigenvalues
        Eigenvalues in eV, shape (n_kpoints, n_bands), spin-paired.
    n_electrons
        Number of valence electrons, even.

    Returns
    -------
    tuple of float
        VBM and CBM in eV; CBM < VBM when the bands overlap (a metal).

    Raises
    ------
    LabelError
        An odd number of electrons, or too few bands for the CBM.
    """
    energies = np.sort(np.asarray(eigenvalues, dtype=float), axis=-1)
    n_el = round(float(n_electrons))
    if n_el % 2 or abs(n_el - float(n_electrons)) > 1e-6:
        raise LabelError(
            f"band edges by counting need an even number of electrons "
            f"(got {n_electrons})"
        )
    homo = n_el // 2 - 1
    if energies.ndim != 2 or homo < 0 or homo + 1 >= energies.shape[-1]:
        raise LabelError(
            f"cannot place {n_el} electrons in eigenvalues of shape {energies.shape}: "
            "the calculator must include empty bands"
        )
    return float(energies[:, homo].max()), float(energies[:, homo + 1].min())


def eigenvalue_band_edges(calculator: Any) -> tuple[float, float] | None:
    """VBM and band gap (eV) from a calculator's eigenvalues, or None without them.

    Eigenvalues and occupations are collected with ``get_eigenvalues`` and
    ``get_occupation_numbers`` for every k-point of ``get_ibz_k_points`` and
    every spin of ``get_number_of_spins``; see :func:`band_edges`. A metal
    has band gap 0.
    """
    try:
        n_spins = int(calculator.get_number_of_spins())
        n_kpoints = len(calculator.get_ibz_k_points())
        eigenvalues = [
            [calculator.get_eigenvalues(kpt=k, spin=s) for k in range(n_kpoints)]
            for s in range(n_spins)
        ]
        occupations = [
            [calculator.get_occupation_numbers(kpt=k, spin=s) for k in range(n_kpoints)]
            for s in range(n_spins)
        ]
    except NOT_PROVIDED:
        return None
    if any(e is None for row in eigenvalues for e in row) or any(
        o is None for row in occupations for o in row
    ):
        return None
    vbm, cbm, metallic = band_edges(eigenvalues, occupations)
    return vbm, 0.0 if metallic else cbm - vbm


def compute_labels(
    atoms: Atoms, calculator: Any, *, include_stress: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """Compute every label of one structure.

    Parameters
    ----------
    atoms
        The structure; it is copied, not modified.
    calculator
        A fresh ASE calculator.
    include_stress
        Compute ``stress`` and ``hydrostatic_stress`` (needs a periodic cell).

    Returns
    -------
    labels : dict
        ``energy``, ``energy_per_atom`` and whichever of ``forces``,
        ``stress``, ``hydrostatic_stress``, ``band_gap`` and ``vbm`` the
        calculator gives, in the units of :data:`ase_phonongnn.keys.UNITS`.
    unavailable : list of str
        The labels this calculator cannot give.
    """
    atoms = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    atoms.calc = calculator
    energy = float(atoms.get_potential_energy())
    labels: dict[str, Any] = {
        keys.ENERGY: energy,
        keys.ENERGY_PER_ATOM: energy / len(atoms),
    }
    unavailable = []
    try:
        labels[keys.FORCES] = np.asarray(atoms.get_forces(), dtype=np.float64)
    except NOT_PROVIDED:
        unavailable.append(keys.FORCES)
    implemented = getattr(calculator, "implemented_properties", ())
    if include_stress:
        try:
            stress = np.asarray(atoms.get_stress(voigt=True), dtype=np.float64)
        except NOT_PROVIDED:
            unavailable.append(keys.STRESS)
            if keys.HYDROSTATIC_STRESS in implemented:
                labels[keys.HYDROSTATIC_STRESS] = float(
                    calculator.get_property(keys.HYDROSTATIC_STRESS, atoms)
                )
            else:
                unavailable.append(keys.HYDROSTATIC_STRESS)
        else:
            labels[keys.STRESS] = stress
            labels[keys.HYDROSTATIC_STRESS] = float(hydrostatic_stress(stress))
    if keys.BAND_GAP in implemented and keys.VBM in implemented:
        labels[keys.BAND_GAP] = float(calculator.get_property(keys.BAND_GAP, atoms))
        labels[keys.VBM] = float(calculator.get_property(keys.VBM, atoms))
    else:
        edges = eigenvalue_band_edges(calculator)
        if edges is None:
            unavailable += [keys.BAND_GAP, keys.VBM]
        else:
            labels[keys.VBM], labels[keys.BAND_GAP] = edges
    return labels, unavailable
