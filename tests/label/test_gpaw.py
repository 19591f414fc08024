"""The GPAW labeller: labels reproduced by GPAW from their recorded parameters.

Small cells and a minimal basis keep these to seconds; CI installs GPAW, so
they run there for real (a missing GPAW fails under ``CI=true``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from ase.units import GPa

from ase_phonongnn import keys
from ase_phonongnn.cli.main import main
from ase_phonongnn.label import label_snapshots
from ase_phonongnn.label.gpaw import (
    GPAWPBEsol,
    paw_dataset_directory,
    strain_hydrostatic_stress,
)
from ase_phonongnn.label.labels import band_edges, counted_band_edges
from ase_phonongnn.store import SnapshotStore
from ase_phonongnn.structures import antiperovskite

if os.environ.get("CI") and importlib.util.find_spec("gpaw") is None:
    raise ImportError("CI runs the GPAW tests: pip install 'ase-phonongnn[dft]'")
gpaw = pytest.importorskip("gpaw")

#: LCAO with a minimal basis (single-ζ, cut from the shipped dzp files) keeps
#: these fast; plane waves at a low cutoff for the stress tensor.
SMALL = {"mode": "lcao", "basis": "sz(dzp)"}
SMALL_PW = {"mode": {"name": "pw", "ecut": 250}, "basis": "sz(dzp)", "h": 0.3}


def ag3si_cell(seed: int = 1) -> Atoms:
    """Cubic Ag3SI (a = 4.869 Å, 5 atoms) with every atom moved by ≤ 0.08 Å."""
    atoms = antiperovskite("I")
    rng = np.random.default_rng(seed)
    atoms.positions += rng.uniform(-0.08, 0.08, atoms.positions.shape)
    return atoms


def test_cli_label_is_reproduced_by_gpaw_from_its_parameters(tmp_path, monkeypatch):
    snapshots = tmp_path / "ag3si.extxyz"
    write(snapshots, [ag3si_cell()])
    store_path = tmp_path / "labels.h5"
    code = main(
        [
            "label",
            str(snapshots),
            "--out",
            str(store_path),
            "--calculator",
            "gpaw",
            "--calculator-option",
            "mode=lcao",
            "--calculator-option",
            "basis=sz(dzp)",
            "--calculator-option",
            "strain=none",
        ]
    )
    assert code == 0
    with SnapshotStore.open(store_path) as store:
        (atoms,) = store.read_atoms()
    provenance = atoms.info["label_provenance"]
    assert provenance[keys.LABELLER] == "gpaw"
    assert provenance["versions"]["gpaw"] == gpaw.__version__
    datasets = provenance["scf_settings"]["paw_datasets"]
    assert datasets["I"]["file"] == "I.PBEsol.gz"
    shipped = (paw_dataset_directory() / "Ag.11.PBEsol.gz").read_bytes()
    assert datasets["Ag"]["sha256"] == hashlib.sha256(shipped).hexdigest()

    # an independent GPAW run with the recorded keyword arguments; forces are
    # asked first: GPAW 26.7's LCAO forces are wrong once occupation numbers
    # have been read (the labeller keeps that order too)
    monkeypatch.setattr(
        gpaw, "setup_paths", [paw_dataset_directory(), *gpaw.setup_paths]
    )
    direct = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
    direct.calc = gpaw.GPAW(**provenance["parameters"], txt=None)
    energy = direct.get_potential_energy()
    np.testing.assert_allclose(
        direct.get_forces(), atoms.arrays[keys.FORCES], atol=5e-3
    )
    vbm, cbm = direct.calc.get_homo_lumo()  # GPAW's own electron counting
    gap = cbm - vbm
    assert abs(energy / len(direct) - atoms.info[keys.ENERGY_PER_ATOM]) < 2e-4
    assert abs(gap - atoms.info[keys.BAND_GAP]) < 5e-3
    assert abs(vbm - atoms.info[keys.VBM]) < 5e-3
    assert keys.HYDROSTATIC_STRESS not in atoms.info  # strain=none: none asked
    assert atoms.info[keys.BAND_GAP] > 0.1  # an insulator, as Ag3SI is


def test_hydrostatic_stress_gives_a_positive_bulk_modulus():
    """σh grows (towards tension) as the cell expands: K = Δσh / Δ(ln V) > 0.

    Ag3SI is mechanically stable; its bulk modulus is tens of GPa.
    """
    stresses = []
    for scale in (0.99, 1.01):
        atoms = antiperovskite("I")
        atoms.set_cell(atoms.cell * scale, scale_atoms=True)
        stresses.append(
            strain_hydrostatic_stress(atoms, lambda: GPAWPBEsol(**SMALL, h=0.3), 0.003)
        )
    bulk_modulus = (stresses[1] - stresses[0]) / (3 * np.log(1.01 / 0.99))
    assert 5 < bulk_modulus < 300


def test_scf_failure_is_recorded_and_the_run_goes_on(tmp_path):
    store_path = tmp_path / "failed.h5"
    summary = label_snapshots(
        [ag3si_cell(seed=3), ag3si_cell(seed=4)],
        "gpaw",
        store_path,
        calculator_options={**SMALL, "maxiter": 3, "strain": None},
        progress=False,
    )
    assert summary.failed == 2 and summary.done == 0
    with SnapshotStore.open(store_path) as store:
        failed = store.read_atoms("failed")
    assert len(failed) == 2
    assert all("converge" in a.info[keys.LABEL_MESSAGE].lower() for a in failed)


def test_lcao_without_strain_gives_no_hydrostatic_stress():
    calculator = GPAWPBEsol(strain=None, **SMALL)
    assert keys.HYDROSTATIC_STRESS not in calculator.implemented_properties
    assert keys.STRESS not in calculator.implemented_properties
    with pytest.raises(ValueError, match="strain"):
        GPAWPBEsol(strain=0.5)


def test_a_smeared_small_gap_is_not_a_metal():
    """0.1 eV between VBM and CBM, Fermi–Dirac occupations of width 0.05 eV.

    The occupations put 0.27 electrons above the gap, which the occupation
    rule reads as a metal; counting electrons gives the gap.
    """
    levels = np.array([[-2.0, -1.0, 0.0, 0.1, 1.0, 2.0]])
    fermi = 0.05
    occupations = 2 / (1 + np.exp((levels - fermi) / 0.05))
    assert band_edges(levels[None], occupations[None])[2]  # "metallic"
    vbm, cbm = counted_band_edges(levels, 6)
    assert (vbm, cbm) == (0.0, 0.1)


def test_forces_alone_leave_the_strained_runs_out():
    """Phonons and relaxations ask for forces: σh (two more SCFs) waits until asked.

    Asked for afterwards, σh is the central difference of two fresh GPAW runs
    on the strained cells, whatever was asked before.
    """
    atoms = ag3si_cell(seed=5)
    atoms.calc = GPAWPBEsol(**SMALL, h=0.3)
    forces = atoms.get_forces()
    assert keys.HYDROSTATIC_STRESS not in atoms.calc.results
    sigma = atoms.calc.get_property(keys.HYDROSTATIC_STRESS, atoms)
    np.testing.assert_array_equal(atoms.get_forces(), forces)  # not recomputed
    expected = strain_hydrostatic_stress(
        atoms, lambda: GPAWPBEsol(**SMALL, h=0.3), 0.003
    )
    assert sigma == pytest.approx(expected, abs=1e-6)


def test_plane_waves_give_a_stress_tensor_of_a_stable_crystal():
    """Plane waves (the default mode) give GPAW's stress tensor: a cubic cell
    under isotropic strain has an isotropic stress, tensile when expanded and
    compressive when compressed, with a positive bulk modulus.
    """
    sigma = []
    for scale in (0.99, 1.01):
        atoms = antiperovskite("I")
        atoms.set_cell(atoms.cell * scale, scale_atoms=True)
        atoms.calc = GPAWPBEsol(**SMALL_PW)
        stress = atoms.get_stress(voigt=True)
        np.testing.assert_allclose(stress[:3], stress[0], atol=1e-4)  # cubic
        np.testing.assert_allclose(stress[3:], 0, atol=1e-4)
        sigma.append(atoms.calc.get_property(keys.HYDROSTATIC_STRESS, atoms))
        assert sigma[-1] == pytest.approx(stress[0] / GPa, rel=1e-9)  # tr σ / 3
    bulk_modulus = (sigma[1] - sigma[0]) / (3 * np.log(1.01 / 0.99))
    assert 5 < bulk_modulus < 300
