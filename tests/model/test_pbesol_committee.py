"""The PBEsol family committee by name: iodine supported, close to its labeller."""

from __future__ import annotations

import numpy as np
import pytest

from ase_phonongnn import PhononGNNCalc, keys
from ase_phonongnn.data import dataset_path, datasets_directory
from ase_phonongnn.model import models_covering, named_model
from ase_phonongnn.prediction import UnsupportedElementError
from ase_phonongnn.structures import antiperovskite
from ase_phonongnn.train import hash_split, load_structures

#: GPAW's energy per atom of the ideal 2×2×2 Ag3SI cell (a = 4.869 Å) with the
#: labeller's defaults (research/pbesol/thermal_energy_check.py)
GPAW_IDEAL_AG3SI = -2.999698


@pytest.fixture(scope="module")
def calc() -> PhononGNNCalc:
    return PhononGNNCalc("pbesol", device="cpu", dtype="float64")


def test_the_family_committee_is_named_and_covers_iodine() -> None:
    model = named_model("pbesol")
    assert len(model.members) == 2 and model.spread_scale is not None
    assert model.level_of_theory.startswith("PBEsol")
    assert all(name.startswith("pbesol-") for name in model.training_data)


def test_the_ideal_ag3si_cell_is_symmetric_and_at_the_labellers_energy(calc) -> None:
    atoms = antiperovskite("I").repeat((2, 2, 2))
    atoms.calc = calc
    # every site of the cubic cell is a centre of inversion: no force
    assert np.abs(atoms.get_forces()).max() < 1e-8
    energy = atoms.get_potential_energy() / len(atoms)
    # within the 10 meV/atom that a relaxation's end point must meet against
    # the labeller; measured 6.5 meV/atom below GPAW (held-out MAE 5.1)
    assert energy == pytest.approx(GPAW_IDEAL_AG3SI, abs=0.010)
    assert calc.get_property("band_gap", atoms) > 0


@pytest.mark.parametrize("dataset", ["pbesol-phonon-Ag3SI", "pbesol-thermal-mixed"])
def test_held_out_family_labels_are_reproduced(calc, dataset) -> None:
    if not (datasets_directory() / "datasets.json").is_file():
        pytest.skip("an installed package without the repository's datasets folder")
    structures = load_structures(dataset_path(dataset))
    test = [structures[i] for i in hash_split(structures).test]
    assert test, f"{dataset} has no held-out snapshot"
    force_errors, energy_errors = [], []
    for atoms in test:
        predicted = atoms.copy()
        predicted.calc = calc
        force_errors.append(predicted.get_forces() - atoms.arrays[keys.FORCES])
        energy_errors.append(
            predicted.get_potential_energy() / len(predicted)
            - atoms.info[keys.ENERGY_PER_ATOM]
        )
    # measured: 0.12-0.16 eV/Å against GPAW force RMS of 0.44-0.6 eV/Å
    assert np.sqrt(np.mean(np.concatenate(force_errors) ** 2)) < 0.25
    assert np.mean(np.abs(energy_errors)) < 0.010


def test_an_iodine_structure_on_the_ag3sbr_committee_names_the_family_one() -> None:
    atoms = antiperovskite("I")
    atoms.calc = PhononGNNCalc("gfn2-xtb", device="cpu")
    with pytest.raises(UnsupportedElementError, match=r"element I .*'pbesol'"):
        atoms.get_potential_energy()
    assert models_covering({"Ag", "S", "I"}) == ("pbesol",)
    assert set(models_covering({"Ag", "S", "Br"})) == {
        "gfn2-xtb",
        "gfn2-xtb-sharp",
        "pbesol",
    }
