"""Relaxed low-symmetry references of the family, for off-ensemble sampling.

    python research/pbesol/relaxed_references.py

BFGS (fmax 0.05 eV/Å, fixed cell) with the family committee
(``PhononGNNCalc("pbesol")``) from seeded 300 K snapshots: three of Ag3SI
(normal modes of its force constants renormalised at 300 K through the
committee) and three of Ag3SBr_x I_(1-x), x = 2/8, 4/8, 6/8 (as the
``thermal-mixed`` set draws them). At the committee's minima GPAW lies within
3.2 meV/atom of the model (benchmarks/results/potential-pbesol-Ag3SI.json),
about 60 meV/atom below the cubic cell: the structures the crystal's thermal
ensemble visits, which phonon-informed snapshots miss. A relaxation that
does not converge or ends with a contact below 2 Å (a hole of the model) is
reported and left out. Writes samples/relaxed-references.extxyz (the
``off-ensemble-relaxed`` set of sample.py samples about them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write
from ase.optimize import BFGS

from ase_phonongnn import PhononGNNCalc
from ase_phonongnn.data import force_constants_path
from ase_phonongnn.model import named_model
from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.structures import substitute_iodine

HERE = Path(__file__).resolve().parent
OUT = HERE / "samples" / "relaxed-references.extxyz"
FMAX = 0.05


def starts() -> list[Atoms]:
    """Return the seeded 300 K snapshots the relaxations start from."""
    ag3si = PhononSampler.from_file(
        HERE / "force-constants" / "Ag3SI_300K_model_al2_params.yaml.xz"
    )
    frames = ag3si.sample(300.0, 3, "normal-mode", seed=6000)
    ag3sbr = PhononSampler.from_file(force_constants_path("Ag3SBr", 300))
    for k, n_iodine in enumerate((6, 4, 2)):
        (atoms,) = ag3sbr.sample(
            300.0, 1, "normal-mode", imaginary="floor:0.5", seed=6001 + k
        )
        mixed = substitute_iodine(atoms, n_iodine, np.random.default_rng(6001 + k))
        mixed.info.update(atoms.info)
        frames.append(mixed)
    return frames


def main() -> None:
    """Relax every start and write the references."""
    calc = PhononGNNCalc("pbesol", device="cpu")
    references = []
    for k, start in enumerate(starts()):
        atoms = Atoms(start.numbers, start.positions, cell=start.cell, pbc=True)
        atoms.calc = calc
        optimiser = BFGS(atoms, logfile=None)
        converged = bool(optimiser.run(fmax=FMAX, steps=500))
        energy = atoms.get_potential_energy() / len(atoms)
        relaxed = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
        relaxed.info.update(
            {
                "reference": k,
                "relaxed_with": ",".join(m.name for m in named_model("pbesol").members),
                "fmax": FMAX,
                "converged": converged,
                "steps": int(optimiser.nsteps),
                "model_energy_per_atom": float(energy),
                "start_seed": start.info.get("seed"),
                "start_temperature": start.info.get("temperature"),
            }
        )
        closest = float(np.sort(relaxed.get_all_distances(mic=True), axis=None)[40])
        if converged and closest > 2.0:
            references.append(relaxed)
        print(f"closest contact {closest:.2f} Å; kept: {converged and closest > 2.0}")
        print(
            f"{relaxed.get_chemical_formula()}: {optimiser.nsteps} steps, "
            f"converged {converged}, {energy:.4f} eV/atom"
        )
    write(OUT, references)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
