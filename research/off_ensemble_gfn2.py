"""Off-ensemble Ag3SBr snapshots labelled with GFN2-xTB, for the potential.

    python research/off_ensemble_gfn2.py            # resumes where it stopped

1. Relaxes seeded 300 K thermal snapshots of the 2×2×2 cell with GFN2-xTB
   (tblite's ASE calculator, which starts each SCF from the last one; BFGS to
   0.05 eV/Å at the fixed lattice) into research/datasets/relaxed-Ag3SBr.extxyz,
   one structure at a time, after the ideal cell (one whose relaxation
   GFN2-xTB's SCF stops is kept where it stopped, ``converged=False``). These
   are the labeller's own minima: the low-symmetry structures the cubic
   cell's imaginary modes lead to, and the references against which a
   model's relaxations are checked.
2. Samples off-ensemble snapshots about them (``phonongnn sample --method
   off-ensemble``: small displacements, ±3 % strains, contacts down to 2 Å).
3. Labels them with the GFN2-xTB labeller into
   datasets/gfn2-xtb/off-ensemble-Ag3SBr.h5 (``phonongnn label``; resumes),
   the dataset ``gfn2-xtb-off-ensemble-Ag3SBr``, on the first rung of its
   retry ladder (training leaves out what converged only on later rungs), in
   the order of research/datasets/off-ensemble-Ag3SBr-ordered.extxyz: the
   snapshots about the ideal cell first, then about the relaxation that came
   closest to a minimum, then the two that GFN2-xTB's SCF stopped early
   (about which it failed on 3 of the first 4 snapshots).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ase.io
from ase import Atoms
from ase.calculators.calculator import CalculationFailed
from ase.optimize import BFGS

from ase_phonongnn.data import force_constants_path
from ase_phonongnn.sample import OFF_ENSEMBLE_KINDS as KINDS
from ase_phonongnn.sample import PhononSampler

HERE = Path(__file__).resolve().parent / "datasets"
RELAXED = HERE / "relaxed-Ag3SBr.extxyz"
SAMPLES = HERE / "off-ensemble-Ag3SBr.extxyz"
ORDERED = HERE / "off-ensemble-Ag3SBr-ordered.extxyz"
#: labelling order of the references (0: the ideal cell)
REFERENCE_ORDER = {0: 0, 3: 1, 1: 2, 2: 2}
STORE = HERE.parents[1] / "datasets" / "gfn2-xtb" / "off-ensemble-Ag3SBr.h5"
N_RELAXED = 3
N_PER_KIND = 80


def relax() -> None:
    """Append the ideal cell and each missing relaxed snapshot to RELAXED."""
    from tblite.ase import TBLite

    sampler = PhononSampler.from_file(force_constants_path("Ag3SBr", 300))
    done = list(ase.io.iread(RELAXED)) if RELAXED.exists() else []
    if not done:
        ideal = sampler.supercell.copy()
        ideal.info["relaxed_from"] = "ideal"
        ase.io.write(RELAXED, ideal, format="extxyz")
        done = [ideal]
    for seed in range(len(done) - 1, N_RELAXED):
        atoms = sampler.sample(300, 1, "normal-mode", imaginary="floor:0.5", seed=seed)[
            0
        ]
        atoms.calc = TBLite(method="GFN2-xTB", verbosity=0, electronic_temperature=300)
        try:
            steps = BFGS(atoms, logfile=None).run(fmax=0.05, steps=400)
        except CalculationFailed as err:
            # GFN2-xTB's SCF fails on some of these structures: the relaxation
            # is recorded where it stopped, as a structure on its way down
            print(f"seed {seed}: {err}", flush=True)
            steps = False
        relaxed = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
        relaxed.info = {
            "relaxed_from": f"300 K normal-mode snapshot, seed {seed}",
            "converged": bool(steps),
        }
        ase.io.write(RELAXED, relaxed, format="extxyz", append=True)
        print(f"seed {seed}: converged {relaxed.info['converged']}", flush=True)


def main() -> None:
    """Relax, sample and label, each step skipping what exists."""
    HERE.mkdir(exist_ok=True)
    STORE.parent.mkdir(exist_ok=True)
    relax()
    if not SAMPLES.exists():
        subprocess.run(
            [
                "phonongnn",
                "sample",
                "Ag3SBr",
                "--method",
                "off-ensemble",
                "-n",
                str(N_PER_KIND),
                "--references",
                str(RELAXED),
                "--seed",
                "21",
                "--out",
                str(SAMPLES),
            ],
            check=True,
        )
    if not ORDERED.exists():
        samples = list(ase.io.iread(SAMPLES))
        samples.sort(
            key=lambda a: (
                REFERENCE_ORDER[int(a.info["off_ensemble_reference"])],
                int(a.info["snapshot_index"]) % N_PER_KIND,
                list(KINDS).index(a.info["off_ensemble_kind"]),
            )
        )
        ase.io.write(ORDERED, samples, format="extxyz")
    subprocess.run(
        [
            "phonongnn",
            "label",
            str(ORDERED),
            "--out",
            str(STORE),
            "--calculator",
            "gfn2-xtb",
            "--calculator-option",
            "retry=False",
        ],
        check=True,
    )


if __name__ == "__main__":
    sys.exit(main())
