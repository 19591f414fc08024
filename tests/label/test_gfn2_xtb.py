"""The GFN2-xTB labeller: store labels equal tblite's, stress equals dE/dε."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.units import Bohr, GPa, Hartree, kB

from ase_phonongnn import keys
from ase_phonongnn.label import GFN2xTB, label_snapshots
from ase_phonongnn.label.labels import eigenvalue_band_edges
from ase_phonongnn.store import SnapshotStore
from ase_phonongnn.structures import antiperovskite

tblite_interface = pytest.importorskip("tblite.interface")


def ag3sbr_snapshot(seed: int = 3) -> Atoms:
    """Cubic Ag3SBr (Pm-3m, a = 4.793 Å), 2×2×2, displaced by up to 0.05 Å."""
    unit = antiperovskite("Br")
    atoms = unit.repeat((2, 2, 2))
    rng = np.random.default_rng(seed)
    atoms.positions += rng.uniform(-0.05, 0.05, atoms.positions.shape)
    atoms.info.update(temperature=100.0, method="random", seed=seed)
    return atoms


def direct_tblite(atoms: Atoms) -> dict[str, float | np.ndarray]:
    """One GFN2-xTB single point straight through tblite's Python interface."""
    calc = tblite_interface.Calculator(
        "GFN2-xTB",
        atoms.numbers,
        atoms.positions / Bohr,
        lattice=atoms.cell.array / Bohr,
        periodic=np.array([True, True, True]),
    )
    calc.set("verbosity", 0)
    calc.set("temperature", 300.0 * kB / Hartree)
    result = calc.singlepoint()
    energy = result.get("energy") * Hartree
    n_occupied = round(float(result.get("orbital-occupations").sum())) // 2
    orbitals = np.sort(result.get("orbital-energies")) * Hartree
    virial = result.get("virial") * Hartree / atoms.get_volume()
    return {
        "energy_per_atom": energy / len(atoms),
        "vbm": orbitals[n_occupied - 1],
        "band_gap": orbitals[n_occupied] - orbitals[n_occupied - 1],
        "forces": -result.get("gradient") * Hartree / Bohr,
        "hydrostatic_stress": np.trace(virial) / 3 / GPa,
    }


def test_ag3sbr_labels_through_the_store_equal_tblite(tmp_path):
    snapshot = ag3sbr_snapshot()
    assert len(snapshot) == 40
    summary = label_snapshots([snapshot], "gfn2-xtb", tmp_path / "s.h5", progress=False)
    assert (summary.done, summary.failed) == (1, 0)
    with SnapshotStore.open(tmp_path / "s.h5") as store:
        stored = store[0]
    direct = direct_tblite(snapshot)
    for key in (keys.ENERGY_PER_ATOM, keys.BAND_GAP, keys.VBM):
        assert abs(stored.info[key] - direct[key]) < 1e-6, key
    assert np.abs(stored.arrays[keys.FORCES] - direct["forces"]).max() < 1e-6
    assert (
        abs(stored.info[keys.HYDROSTATIC_STRESS] - direct["hydrostatic_stress"]) < 1e-6
    )
    # a thermal snapshot of the 3.7 eV gap insulator
    assert 2.0 < stored.info[keys.BAND_GAP] < 3.8
    provenance = stored.info[keys.LABEL_PROVENANCE]
    assert stored.info[keys.LABELLER] == "gfn2-xtb"
    assert provenance["scf_settings"]["retry_rung"] == 0
    assert provenance["parameters"]["electronic_temperature"] == 300.0
    assert provenance["versions"]["tblite"]
    assert provenance["unavailable_labels"] == []
    assert stored.info[keys.SEED] == 3


def test_stress_is_the_strain_derivative_of_the_energy():
    """σ_ij = (1/V) ∂E/∂ε_ij by central differences, on a compressed sheared NaCl cell.

    GFN2-xTB energies are not perfectly smooth in the strain (real-space
    cutoffs), which limits the agreement to a few 1e-5 eV/Å³ (~0.005 GPa).
    """
    atoms = bulk("NaCl", "rocksalt", a=5.45, cubic=True)
    rng = np.random.default_rng(1)
    atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
    atoms.set_cell(
        atoms.cell.array
        @ (np.eye(3) + np.array([[0, 0.02, 0], [0, 0, 0.01], [0, 0, 0]])),
        scale_atoms=True,
    )
    atoms.calc = GFN2xTB()
    stress = atoms.get_stress(voigt=True)

    def energy(strain: np.ndarray) -> float:
        strained = atoms.copy()
        strained.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=True)
        strained.calc = GFN2xTB()
        return strained.get_potential_energy()

    h = 1e-3
    numerical = []
    for i, j in [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]:
        strain = np.zeros((3, 3))
        strain[i, j] = strain[j, i] = h if i == j else h / 2
        numerical.append(
            (energy(strain) - energy(-strain)) / (2 * h) / atoms.get_volume()
        )
    assert np.abs(stress - numerical).max() < 1e-4
    # compressed: the cell pushes outwards, negative (compressive) in ASE's convention
    assert stress[:3].mean() < -5e-3


def test_eigenvalues_give_the_band_edges_and_the_cubic_degeneracy():
    """ASE's eigenvalue interface round-trips to the labels; Oh symmetry holds.

    The top valence level of ideal cubic Ag3SBr at Γ is three-fold
    degenerate (a T irreducible representation of Oh); a displacement that
    breaks the symmetry splits it.
    """
    atoms = antiperovskite("Br")
    atoms.calc = GFN2xTB()
    vbm, gap = (
        atoms.calc.get_property(keys.VBM, atoms),
        atoms.calc.get_property(keys.BAND_GAP, atoms),
    )
    assert atoms.calc.get_number_of_spins() == 1
    assert atoms.calc.get_ibz_k_points().shape == (1, 3)
    edges = eigenvalue_band_edges(atoms.calc)
    assert edges is not None
    assert edges == pytest.approx((vbm, gap), abs=1e-10)
    levels = atoms.calc.get_eigenvalues()
    occupations = atoms.calc.get_occupation_numbers()
    assert np.all(np.diff(levels) >= 0)
    top = levels[occupations > 1.0][-3:]
    assert np.ptp(top) < 1e-6
    assert top[-1] == pytest.approx(vbm, abs=1e-10)
    with pytest.raises(IndexError, match="one Γ point"):
        atoms.calc.get_eigenvalues(kpt=1)

    atoms.positions[1] += (0.05, 0.0, 0.0)  # S off its centre
    atoms.get_potential_energy()
    levels = atoms.calc.get_eigenvalues()
    top = levels[atoms.calc.get_occupation_numbers() > 1.0][-3:]
    assert np.ptp(top) > 1e-3
