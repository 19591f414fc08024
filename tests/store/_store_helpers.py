"""Small real snapshots for the store tests: displaced fcc Cu and Al, EMT labels."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT


def displaced_snapshots(
    n: int, element: str = "Cu", repeat: int = 2, seed: int = 0
) -> list[Atoms]:
    """``n`` fcc cells of ``element`` (4 repeat³ atoms), displaced by ~0.05 Å."""
    rng = np.random.default_rng(seed)
    snapshots = []
    for i in range(n):
        atoms = bulk(element, cubic=True).repeat(repeat)
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        atoms.info.update(
            temperature=300.0, method="random", seed=seed, snapshot_index=i
        )
        snapshots.append(atoms)
    return snapshots


def emt_labels(atoms: Atoms) -> dict[str, np.ndarray | float]:
    copy = atoms.copy()
    copy.calc = EMT()
    energy = copy.get_potential_energy()
    return {
        "energy": energy,
        "energy_per_atom": energy / len(copy),
        "forces": copy.get_forces(),
        "stress": copy.get_stress(),
    }


def mixed_snapshots() -> list[Atoms]:
    """Six 32-atom Cu cells and two 4-atom Al cells."""
    return displaced_snapshots(6) + displaced_snapshots(2, "Al", repeat=1, seed=1)
