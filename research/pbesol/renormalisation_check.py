"""The model-renormalised ensemble checked against GPAW forces.

    python research/pbesol/renormalisation_check.py [STORE FORCE_CONSTANTS] [MODEL ...]
        [--select KEY=TEXT]

Ag3SI was renormalised at 300 K with a committee trained on the first PBEsol
labels (``phonongnn renormalise --calculator model:...``). Snapshots sampled
from the result were labelled with GPAW (default store:
``datasets/pbesol/phonon-Ag3SI.h5``); this compares the committee's forces
and energies on them with GPAW's, per species, and writes
``research/pbesol/renormalisation_check-<store>.json``. The error that
matters for the loop is the force error on its own ensemble: the force
constants are fitted to these forces. So the check also fits force constants (symfc, as
the loop does) to the same snapshots twice, once to GPAW's forces and once
to the committee's, and compares their frequencies at the commensurate q
points with each other and with the renormalised force constants.
``--select md_calculator=al1`` keeps the snapshots whose ``info[KEY]``
contains TEXT (the output name gets ``-TEXT``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ase_phonongnn import PhononGNNCalc, keys
from ase_phonongnn.sample._phonopy import load_phonopy, set_force_constants
from ase_phonongnn.sample.renormalise import fit_force_constants
from ase_phonongnn.train import load_structures

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STORE = ROOT / "datasets" / "pbesol" / "phonon-Ag3SI.h5"
FORCE_CONSTANTS = HERE / "force-constants" / "Ag3SI_300K_model_params.yaml.xz"
MODELS = [HERE / "models" / f"pbesol-painn-{k}.safetensors" for k in (0, 1)]
#: the commensurate q points of the 2×2×2 cell, one of each star
Q_POINTS = [[0, 0, 0], [0.5, 0, 0], [0.5, 0.5, 0], [0.5, 0.5, 0.5]]


def commensurate_frequencies(phonon, force_constants=None) -> np.ndarray:
    """Frequencies (THz) at :data:`Q_POINTS`, of ``force_constants`` if given."""
    if force_constants is not None:
        set_force_constants(phonon, force_constants)
    phonon.run_qpoints(Q_POINTS)
    return np.asarray(phonon.qpoints.frequencies).ravel()


def main(
    store: Path, force_constants: Path, models: list[Path], select: str | None
) -> None:
    """Compare the committee with GPAW on the labelled snapshots of ``store``."""
    structures = load_structures(store)
    suffix = ""
    if select:
        key, text = select.split("=", 1)
        structures = [a for a in structures if text in str(a.info.get(key, ""))]
        suffix = f"-{text}"
    phonon = load_phonopy(force_constants)
    renormalised = commensurate_frequencies(phonon)
    ideal = phonon.supercell.positions
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
    displacements = np.array([a.positions - ideal for a in structures])
    fitted = {
        name: commensurate_frequencies(
            phonon, fit_force_constants(phonon, displacements, values)
        )
        for name, values in (("gpaw", forces), ("committee", forces + error))
    }
    record = {
        "store": str(store.relative_to(ROOT)),
        "models": [str(m.relative_to(ROOT)) for m in models],
        "selected": select,
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
        "force_constants": str(force_constants.relative_to(ROOT)),
        "frequency_mae_thz_committee_fit_vs_gpaw_fit": float(
            np.abs(fitted["committee"] - fitted["gpaw"]).mean()
        ),
        "frequency_mae_thz_renormalised_vs_gpaw_fit": float(
            np.abs(renormalised - fitted["gpaw"]).mean()
        ),
        "lowest_thz": {
            "renormalised": float(renormalised.min()),
            "gpaw_fit": float(fitted["gpaw"].min()),
            "committee_fit": float(fitted["committee"].min()),
        },
        "highest_thz": {
            "renormalised": float(renormalised.max()),
            "gpaw_fit": float(fitted["gpaw"].max()),
            "committee_fit": float(fitted["committee"].max()),
        },
    }
    out = HERE / f"renormalisation_check-{store.stem}{suffix}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store", nargs="?", type=Path, default=STORE)
    parser.add_argument(
        "force_constants", nargs="?", type=Path, default=FORCE_CONSTANTS
    )
    parser.add_argument("models", nargs="*", type=Path, default=MODELS)
    parser.add_argument("--select", help="KEY=TEXT: snapshots whose info[KEY] has TEXT")
    args = parser.parse_args()
    main(
        args.store.resolve(),
        args.force_constants.resolve(),
        [m.resolve() for m in args.models],
        args.select,
    )
