"""Small real fixtures shared by the test suite."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT
from phonopy import Phonopy

from ase_phonongnn.sample import PhononSampler, compute_force_constants


def cu3au_unitcell() -> Atoms:
    """L1_2 Cu3Au at the EMT equilibrium lattice parameter (3.708 Å)."""
    return Atoms(
        "AuCu3",
        scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
        cell=np.eye(3) * 3.70811,
        pbc=True,
    )


@pytest.fixture(scope="session")
def cu3au_phonon() -> Phonopy:
    """phonopy + EMT force constants of Cu3Au in a 2×2×2 supercell (32 atoms)."""
    return compute_force_constants(cu3au_unitcell(), [2, 2, 2], EMT, progress=False)


@pytest.fixture(scope="session")
def cu3au_sampler(cu3au_phonon: Phonopy) -> PhononSampler:
    return PhononSampler.from_phonopy(cu3au_phonon)
