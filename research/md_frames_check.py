"""Are the committee's MD structures GFN2-xTB's? Frames of the ensemble check, labelled.

    python research/md_frames_check.py 100 [PS]

Reruns the ensemble check's Langevin MD (research/ensemble_check.py: shipped
committee, ideal cubic 2×2×2 Ag3SBr, 1 fs, friction 0.01/fs, seed 11) at one
temperature for PS picoseconds (default 5), keeps a frame every 0.5 ps
(research/datasets/md-committee-Ag3SBr-<T>K.extxyz) and labels the frames and
the ideal cell with GFN2-xTB (first SCF rung), so that the committee's energy
of the structures MD reaches, relative to the ideal cell, can be set beside
the labeller's. Results: research/md_frames_check.json (one record per
temperature).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.io import write

from ase_phonongnn import PhononGNNCalc
from ase_phonongnn.data import force_constants_path
from ase_phonongnn.label.calculators import resolve_calculator
from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.sample.md import langevin

HERE = Path(__file__).resolve().parent
OUT = HERE / "md_frames_check.json"
EVERY_PS = 0.5


def main(temperature: float, ps: float) -> None:
    """Run, keep frames, label them and record the energies."""
    torch.set_num_threads(1)
    ideal = PhononSampler.from_file(force_constants_path("Ag3SBr", 300)).supercell
    calc = PhononGNNCalc(compile_messages=True)
    system, dynamics = langevin(
        ideal, calc, temperature, 1.0, 0.01, np.random.RandomState(11)
    )
    frames = []
    for _ in range(round(ps / EVERY_PS)):
        dynamics.run(round(1000 * EVERY_PS))
        frame = Atoms(ideal.numbers, system.get_positions(), cell=ideal.cell, pbc=True)
        frame.info["md_time_ps"] = dynamics.nsteps / 1000
        frame.info["committee_energy_per_atom"] = float(calc.results["energy_per_atom"])
        frame.info["committee_spread_per_atom"] = float(
            calc.results["energy_std"]
        ) / len(frame)
        frames.append(frame)
    write(HERE / "datasets" / f"md-committee-Ag3SBr-{temperature:g}K.extxyz", frames)
    factory, _ = resolve_calculator("gfn2-xtb", {"retry": False})

    def label(atoms: Atoms) -> float | None:
        atoms = atoms.copy()
        atoms.calc = factory()
        try:
            return float(atoms.get_potential_energy()) / len(atoms)
        except Exception as err:  # an SCF that does not converge
            print(f"GFN2-xTB failed: {err}", flush=True)
            return None

    reference = ideal.copy()
    reference.calc = calc
    record = {
        "temperature": temperature,
        "ideal": {
            "committee": float(reference.get_potential_energy()) / len(ideal),
            "gfn2_xtb": label(ideal),
        },
        "frames": [],
    }
    for frame in frames:
        entry = {
            "time_ps": frame.info["md_time_ps"],
            "committee": frame.info["committee_energy_per_atom"],
            "spread": frame.info["committee_spread_per_atom"],
            "gfn2_xtb": label(frame),
        }
        record["frames"].append(entry)
        print(json.dumps(entry), flush=True)
    records = json.loads(OUT.read_text()) if OUT.exists() else []
    records = [r for r in records if r["temperature"] != temperature] + [record]
    OUT.write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main(float(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 5.0)
