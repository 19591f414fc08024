from __future__ import annotations

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.units import GPa

from ase_phonongnn import keys
from ase_phonongnn.sample import PhononSampler, compute_force_constants


def emt_labels(atoms) -> None:
    """Label a structure in place with EMT: labels in info, forces in arrays."""
    atoms.calc = EMT()
    energy = atoms.get_potential_energy()
    atoms.info[keys.ENERGY] = energy
    atoms.info[keys.ENERGY_PER_ATOM] = energy / len(atoms)
    atoms.info[keys.STRESS] = atoms.get_stress()
    atoms.info[keys.HYDROSTATIC_STRESS] = float(atoms.get_stress()[:3].mean() / GPa)
    atoms.arrays[keys.FORCES] = atoms.get_forces()
    atoms.calc = None


@pytest.fixture(scope="session")
def cu_snapshots():
    """48 EMT-labelled thermal snapshots of a 32-atom Cu supercell, 100-900 K."""
    cu = bulk("Cu", "fcc", a=3.61, cubic=True)
    phonon = compute_force_constants(cu, [2, 2, 2], EMT(), progress=False)
    sampler = PhononSampler.from_phonopy(phonon)
    snapshots = []
    for seed, temperature in enumerate((100.0, 300.0, 600.0, 900.0)):
        snapshots += sampler.sample(temperature, 12, method="normal-mode", seed=seed)
    for atoms in snapshots:
        emt_labels(atoms)
    return snapshots
