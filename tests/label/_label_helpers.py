"""Real calculators and structures for the labelling tests."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT

#: Eigenvalues (eV), shape (2 spins, 3 k-points, 4 bands), of an indirect-gap
#: insulator whose VBM (0.7 eV) is at spin 1, k 2 and CBM (1.9 eV) at spin 0, k 1.
INSULATOR_EIGENVALUES = np.array(
    [
        [[-5.0, -1.0, 2.0, 3.0], [-5.1, -0.8, 1.9, 3.1], [-5.2, -0.9, 2.2, 3.3]],
        [[-4.8, -0.6, 2.4, 3.0], [-4.9, -0.7, 2.5, 3.1], [-4.7, 0.7, 2.1, 3.2]],
    ]
)
#: Two of four bands filled (spin-polarised: occupation 1 per level).
INSULATOR_OCCUPATIONS = np.broadcast_to([1.0, 1.0, 0.0, 0.0], (2, 3, 4)).copy()
K_POINT_WEIGHTS = np.array([0.25, 0.5, 0.25])


class KnownBandsEMT(EMT):
    """EMT energies, forces and stress, plus given eigenvalues and occupations.

    Parameters
    ----------
    eigenvalues, occupations
        Shape (n_spins, n_kpoints, n_bands), eV and occupation numbers.
    fermi_level
        eV, for ase.dft.bandgap.
    """

    def __init__(
        self,
        eigenvalues=INSULATOR_EIGENVALUES,
        occupations=INSULATOR_OCCUPATIONS,
        fermi_level=1.3,
        weights=K_POINT_WEIGHTS,
    ):
        super().__init__()
        self.eigenvalues = np.asarray(eigenvalues, dtype=float)
        self.occupations = np.asarray(occupations, dtype=float)
        self.fermi_level = fermi_level
        self.weights = np.asarray(weights, dtype=float)

    def get_number_of_spins(self):
        return self.eigenvalues.shape[0]

    def get_spin_polarized(self):
        return self.get_number_of_spins() == 2

    def get_ibz_k_points(self):
        return np.zeros((self.eigenvalues.shape[1], 3))

    def get_k_point_weights(self):
        return self.weights

    def get_eigenvalues(self, kpt=0, spin=0):
        return self.eigenvalues[spin, kpt]

    def get_occupation_numbers(self, kpt=0, spin=0):
        return self.occupations[spin, kpt]

    def get_fermi_level(self):
        return self.fermi_level


class FlakyEMT(EMT):
    """EMT that fails like a non-converging SCF on cells of fewer than 8 atoms."""

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        if atoms is not None and len(atoms) < 8:
            raise RuntimeError("SCF not converged in 250 cycles")
        super().calculate(atoms, properties, system_changes)


def cu_snapshots(n: int, seed: int = 0) -> list[Atoms]:
    """``n`` 32-atom fcc Cu cells with ~0.05 Å seeded random displacements."""
    rng = np.random.default_rng(seed)
    snapshots = []
    for i in range(n):
        atoms = bulk("Cu", cubic=True).repeat(2)
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        atoms.info.update(
            temperature=300.0, method="random", seed=seed, snapshot_index=i
        )
        snapshots.append(atoms)
    return snapshots


def al_cells(n: int, seed: int = 1) -> list[Atoms]:
    """``n`` 4-atom fcc Al cells with seeded random displacements."""
    rng = np.random.default_rng(seed)
    cells = []
    for _ in range(n):
        atoms = bulk("Al", cubic=True)
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        cells.append(atoms)
    return cells


def store_content(path) -> list[tuple]:
    """Everything a store says about its snapshots, except timings and hosts."""
    from ase_phonongnn import keys
    from ase_phonongnn.store import SnapshotStore

    with SnapshotStore.open(path) as store:
        rows = []
        for atoms in store.read_atoms(status=None):
            provenance = dict(atoms.info.get(keys.LABEL_PROVENANCE, {}))
            for volatile in ("seconds", "host", "traceback"):
                provenance.pop(volatile, None)
            labels = tuple(atoms.info.get(key) for key in keys.SCALAR_LABELS)
            rows.append(
                (
                    atoms.info[keys.CONTENT_HASH],
                    atoms.info[keys.LABEL_STATUS],
                    labels,
                    tuple(np.ravel(atoms.info.get(keys.STRESS, []))),
                    tuple(np.ravel(atoms.arrays.get(keys.FORCES, []))),
                    repr(sorted(provenance.items())),
                )
            )
    return rows
