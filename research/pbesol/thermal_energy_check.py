"""Potential energy of the thermal ensembles above the ideal cell, at PBEsol.

    python research/pbesol/thermal_energy_check.py [TEMPERATURE]

An ensemble at temperature T holds, per atom, ⟨V⟩ − V(ideal) of about
(3N − 3)/(2N) k_B T classically (equipartition, harmonic), or Σ (ħω/4)
coth(ħω / 2k_B T) / N over the supercell's modes with quantum statistics. This
labels the ideal 2×2×2 Ag3SI cell with GPAW (the labeller's defaults; cached
in thermal_energy_check.json) and sets its energy under the GPAW energies of
the labelled 300 K snapshots, per kind: phonon-informed (normal modes of the
model-renormalised force constants) and the MD snapshots of each committee.
The committee's own energies are compared the same way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from ase import Atoms, units

from ase_phonongnn import keys
from ase_phonongnn.data import dataset_path
from ase_phonongnn.label import resolve_calculator
from ase_phonongnn.sample._phonopy import load_phonopy
from ase_phonongnn.train import load_structures

HERE = Path(__file__).resolve().parent
OUT = HERE / "thermal_energy_check.json"
FORCE_CONSTANTS = HERE / "force-constants" / "Ag3SI_300K_model_params.yaml.xz"
#: the commensurate q points of the 2×2×2 cell, with their multiplicities
Q_POINTS = {(0, 0, 0): 1, (0.5, 0, 0): 3, (0.5, 0.5, 0): 3, (0.5, 0.5, 0.5): 1}
THZ_TO_EV = 1e12 * units._hplanck / units._e


def ideal_energy_per_atom() -> float:
    """GPAW energy per atom of the ideal supercell (cached)."""
    cache = json.loads(OUT.read_text()) if OUT.exists() else {}
    if "ideal_energy_per_atom" not in cache:
        supercell = load_phonopy(FORCE_CONSTANTS).supercell
        atoms = Atoms(
            supercell.symbols, supercell.positions, cell=supercell.cell, pbc=True
        )
        factory, _ = resolve_calculator("gpaw")
        atoms.calc = factory()
        cache["ideal_energy_per_atom"] = atoms.get_potential_energy() / len(atoms)
        OUT.write_text(json.dumps(cache, indent=1) + "\n")
    return float(cache["ideal_energy_per_atom"])


def harmonic_expectation(temperature: float) -> dict[str, float]:
    """⟨V⟩ per atom (eV) of the force constants' ensemble, both statistics."""
    phonon = load_phonopy(FORCE_CONSTANTS)
    phonon.run_qpoints(list(Q_POINTS))
    assert phonon.qpoints is not None
    frequencies = phonon.qpoints.frequencies
    weights = np.repeat(list(Q_POINTS.values()), frequencies.shape[1])
    energies = frequencies.ravel() * THZ_TO_EV
    real = energies > 1e-4
    kt = units.kB * temperature
    n_atoms = len(phonon.supercell)
    quantum = weights[real] * energies[real] / 4 / np.tanh(energies[real] / (2 * kt))
    return {
        "classical": float(weights[real].sum() * kt / 2 / n_atoms),
        "quantum": float(quantum.sum() / n_atoms),
    }


def main(temperature: float) -> None:
    """Print and record ⟨V⟩ − V(ideal) per ensemble."""
    e0 = ideal_energy_per_atom()
    groups = {
        "phonon-informed": load_structures(dataset_path("pbesol-phonon-Ag3SI")),
    }
    for atoms in load_structures(dataset_path("pbesol-md-Ag3SI")):
        which = "al1" if "al1" in str(atoms.info.get("md_calculator")) else "first"
        groups.setdefault(f"md ({which} committee)", []).append(atoms)
    record: dict[str, object] = {
        "ideal_energy_per_atom": e0,
        "temperature": temperature,
        "harmonic_expectation_mev_per_atom": {
            k: 1000 * v for k, v in harmonic_expectation(temperature).items()
        },
    }
    for name, frames in groups.items():
        v = np.array([a.info[keys.ENERGY_PER_ATOM] for a in frames]) - e0
        record[name] = {
            "n": len(frames),
            "mean_mev_per_atom": float(1000 * v.mean()),
            "std_mev_per_atom": float(1000 * v.std()),
        }
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 300.0)
