"""Small real fixtures shared by the test suite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.units import GPa
from phonopy import Phonopy

from ase_phonongnn import keys
from ase_phonongnn.sample import PhononSampler, compute_force_constants


def cu3au_unitcell() -> Atoms:
    """L1_2 Cu3Au at the EMT equilibrium lattice parameter (3.708 Å)."""
    return Atoms(
        "AuCu3",
        scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
        cell=np.eye(3) * 3.70811,
        pbc=True,
    )


@pytest.fixture
def cu3au_cell() -> Atoms:
    """L1_2 Cu3Au unit cell (:func:`cu3au_unitcell`), a new copy per test."""
    return cu3au_unitcell()


@pytest.fixture(scope="session")
def cu3au_phonon() -> Phonopy:
    """phonopy + EMT force constants of Cu3Au in a 2×2×2 supercell (32 atoms)."""
    return compute_force_constants(cu3au_unitcell(), [2, 2, 2], EMT, progress=False)


@pytest.fixture(scope="session")
def cu3au_sampler(cu3au_phonon: Phonopy) -> PhononSampler:
    return PhononSampler.from_phonopy(cu3au_phonon)


def emt_labels(atoms: Atoms) -> None:
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
def cu_sampler() -> PhononSampler:
    """phonopy + EMT phonons of fcc Cu (a = 3.61 Å) in a 2×2×2 cubic supercell."""
    cu = bulk("Cu", "fcc", a=3.61, cubic=True)
    phonon = compute_force_constants(cu, [2, 2, 2], EMT(), progress=False)
    return PhononSampler.from_phonopy(phonon)


@pytest.fixture(scope="session")
def cu_snapshots(cu_sampler: PhononSampler) -> list[Atoms]:
    """48 EMT-labelled thermal snapshots of a 32-atom Cu supercell, 100-900 K."""
    snapshots = []
    for seed, temperature in enumerate((100.0, 300.0, 600.0, 900.0)):
        snapshots += cu_sampler.sample(temperature, 12, method="normal-mode", seed=seed)
    for atoms in snapshots:
        emt_labels(atoms)
    return snapshots


def _train_cu(snapshots: list[Atoms], seed: int):
    import torch

    from ase_phonongnn.model import ModelConfig
    from ase_phonongnn.train import TrainConfig, train

    config = ModelConfig(
        model="ours", cutoff=4.0, hidden_channels=16, n_interactions=2, n_radial=6
    )
    settings = TrainConfig(
        batch_size=8,
        learning_rate=5e-3,
        max_epochs=30,
        patience=15,
        dtype="float64",
        seed=seed,
        progress=False,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(snapshots, config, settings).model
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def cu_potential(cu_snapshots: list[Atoms], tmp_path_factory: pytest.TempPathFactory):
    """Model ``ours`` trained on the EMT Cu snapshots (energies, forces, stress).

    Float64, cutoff 4 Å (two neighbour shells), 30 epochs: held-out energy
    R² ≈ 0.99 and force R² ≈ 0.97; a few seconds on one thread.
    """
    return _train_cu(cu_snapshots, seed=0)


@pytest.fixture(scope="session")
def cu_committee(cu_potential, cu_snapshots: list[Atoms]) -> list:
    """:func:`cu_potential` and a second member trained with another seed."""
    return [cu_potential, _train_cu(cu_snapshots, seed=1)]


@pytest.fixture(scope="session")
def cu_potential_path(cu_potential, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`cu_potential` saved as a safetensors file."""
    from ase_phonongnn.model import save_model

    path = tmp_path_factory.mktemp("models") / "cu.safetensors"
    return save_model(cu_potential, path)


@pytest.fixture(scope="session")
def property_model():
    """Return a factory of ``ours`` models with every target, for Cu, Ag and Au.

    ``property_model(seed=0, dtype=torch.float64)`` gives energy per atom,
    band gap, VBM and hydrostatic stress heads with weights drawn from
    ``seed`` and fixed target scalings: untrained, for the numerics of
    prediction (batching, committees, units), not for accuracy.
    """
    import torch

    from ase_phonongnn.model import ModelConfig, build_model

    def make(seed: int = 0, dtype=torch.float64):
        config = ModelConfig(
            model="ours",
            targets=keys.TARGETS,
            species=(29, 47, 79),
            cutoff=4.0,
            hidden_channels=16,
            n_interactions=2,
            n_radial=6,
        )
        model = build_model(config, seed=seed, dtype=dtype)
        # energy per atom, band gap (eV), VBM (eV), hydrostatic stress (GPa)
        model.set_target_scaling(
            [0.0, 1.5, -4.0, 0.5], [0.05, 0.3, 0.2, 1.0], [0.05, 0.3, 0.2, 1.0]
        )
        model.atomic_energies.copy_(torch.tensor([-3.5, -2.8, -3.8], dtype=dtype))
        return model.eval()

    return make


@pytest.fixture
def one_thread():
    """Run a test on one torch intra-op thread, restored after.

    On cores shared with other work, two threads ran the small graphs of the
    tests up to 20 times slower. Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
