"""The model-renormalised ensemble checked against GPAW forces.

    python research/pbesol/renormalisation_check.py [STORE] [MODEL ...]

Ag3SI was renormalised at 300 K with a committee trained on the first PBEsol
labels (``phonongnn renormalise --calculator model:...``). Snapshots sampled
from the result were labelled with GPAW (default store:
``datasets/pbesol/phonon-Ag3SI.h5``); this compares the committee's forces
and energies on them with GPAW's, per species, and writes
``research/pbesol/renormalisation_check.json``. The error that matters for
the loop is the force error on its own ensemble: the force constants are
fitted to these forces.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ase_phonongnn import PhononGNNCalc, keys
from ase_phonongnn.train import load_structures

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STORE = ROOT / "datasets" / "pbesol" / "phonon-Ag3SI.h5"
MODELS = [HERE / "models" / f"pbesol-painn-{k}.safetensors" for k in (0, 1)]


def main(store: Path, models: list[Path]) -> None:
    """Compare the committee with GPAW on every labelled snapshot of ``store``."""
    structures = load_structures(store)
    calc = PhononGNNCalc([str(m) for m in models], device="cpu")
    errors, reference, energy_errors = [], [], []
    symbols = np.array(structures[0].get_chemical_symbols())
    for atoms in structures:
        gpaw_forces = atoms.arrays[keys.FORCES]
        model = atoms.copy()
        model.calc = calc
        errors.append(model.get_forces() - gpaw_forces)
        reference.append(gpaw_forces)
        energy_errors.append(
            model.get_potential_energy() / len(model) - atoms.info[keys.ENERGY_PER_ATOM]
        )
    error, forces = np.asarray(errors), np.asarray(reference)
    record = {
        "store": str(store.relative_to(ROOT)),
        "models": [str(m.relative_to(ROOT)) for m in models],
        "n_snapshots": len(structures),
        "force_mae_ev_per_a": float(np.abs(error).mean()),
        "force_rmse_ev_per_a": float(np.sqrt(np.mean(error**2))),
        "gpaw_force_rms_ev_per_a": float(np.sqrt(np.mean(forces**2))),
        "force_rmse_by_species": {
            s: float(np.sqrt(np.mean(error[:, symbols == s] ** 2)))
            for s in dict.fromkeys(symbols)
        },
        "energy_mae_mev_per_atom": float(1000 * np.mean(np.abs(energy_errors))),
        "energy_mean_error_mev_per_atom": float(1000 * np.mean(energy_errors)),
    }
    out = HERE / "renormalisation_check.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main(
        Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else STORE,
        [Path(p).resolve() for p in sys.argv[2:]] or MODELS,
    )
