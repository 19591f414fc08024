"""Cu/Au alloys labelled with a function of their Cu-Au distances only.

The label (stored as ``band_gap``) is exact and known edge by edge:

    y = (100 / N) * sum over Cu-Au pairs closer than 3.2 Å of (1 - r / 3.2)²

computed with ASE's own neighbour list. 3.2 Å holds the first neighbour shell
of the fcc cells (2.65 Å at a = 3.75 Å) and not the second (3.75 Å), so the
graphs of the models (same cutoff) contain exactly the pairs the label sums
over. Random composition (20-60 % Au) and up to 35 % vacancies make the
numbers of Cu-Cu and Au-Au neighbours vary independently of the Cu-Au ones:
otherwise a constant per Cu-Cu bond would fit the label as well as the Cu-Au
distances do, and no explanation could tell them apart.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from ase_phonongnn import keys

#: Radius of the label's pair sum and of the models' graphs, Å.
AB_CUTOFF = 3.2
#: Bond type the label depends on.
AB_BOND = "Cu-Au"


def pair_label(atoms: Atoms) -> float:
    """Return (100 / N) Σ_{Cu-Au pairs, r < 3.2 Å} (1 - r / 3.2)²."""
    i, j, d = neighbor_list("ijd", atoms, AB_CUTOFF)
    mixed = atoms.numbers[i] != atoms.numbers[j]
    # every pair appears as (i, j) and (j, i)
    return float(np.sum((1.0 - d[mixed] / AB_CUTOFF) ** 2) / 2 / len(atoms) * 100)


def cu_au_alloys(n: int, seed: int) -> list[Atoms]:
    """Return n labelled, rattled fcc Cu/Au cells of up to 32 atoms."""
    rng = np.random.default_rng(seed)
    structures = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", a=3.75, cubic=True) * (2, 2, 2)
        sites = len(atoms)
        atoms.numbers = np.where(rng.random(sites) < rng.uniform(0.2, 0.6), 79, 29)
        n_vacancies = int(rng.integers(0, int(0.35 * sites) + 1))
        if n_vacancies:
            del atoms[list(rng.choice(sites, n_vacancies, replace=False))]
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        atoms.info[keys.BAND_GAP] = pair_label(atoms)
        structures.append(atoms)
    return structures
