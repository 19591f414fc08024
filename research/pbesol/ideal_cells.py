"""The family committee against GPAW at the undisplaced cells, x = 0, 1/2, 1.

    python research/pbesol/ideal_cells.py [--model NAME|A,B] [--calibration JSON]
                                          [--out ideal_cells.json]

The T = 0 end of the demo's band-gap map rests on the committee's gap of
(nearly) undisplaced cells. This labels the ideal 2×2×2 cells of Ag3SI,
one occupation of Ag3SBr0.5I0.5 (Vegard cell) and Ag3SBr with GPAW
(``checks/ideal-cells.h5``, resumable) and sets the ``pbesol`` committee's
predictions beside the labels (``ideal_cells.json``); ``--model`` sets a
candidate committee of member files beside them instead.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from ase import Atoms

from ase_phonongnn import keys, label_snapshots, predict
from ase_phonongnn.prediction import Committee
from ase_phonongnn.sample import SolidSolutionSampler
from ase_phonongnn.store import SnapshotStore
from ase_phonongnn.structures import substitute_iodine

HERE = Path(__file__).resolve().parent
STORE = HERE / "checks" / "ideal-cells.h5"
PROPERTIES = (keys.ENERGY_PER_ATOM, keys.BAND_GAP, keys.VBM, keys.HYDROSTATIC_STRESS)


def cells() -> list[Atoms]:
    """Return the ideal cells, in the phonopy order of the shipped supercell."""
    reference = SolidSolutionSampler.shipped(1.0).supercell
    frames = []
    for n_iodine in (8, 4, 0):
        atoms = substitute_iodine(reference, n_iodine, np.random.default_rng(0))
        atoms.info["name"] = f"x={atoms.info['bromine_fraction']:g}"
        frames.append(atoms)
    return frames


def main() -> None:
    """Label the cells with GPAW, predict them, write the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="pbesol", help="a name, or files A,B")
    parser.add_argument("--calibration", type=Path, default=None, help="its spreads")
    parser.add_argument("--out", default="ideal_cells.json", help="in this folder")
    args = parser.parse_args()
    parts = args.model.split(",")
    scale = None
    if args.calibration is not None:
        scale = json.loads(args.calibration.read_text())["spread_scale"]
    committee = Committee.load(parts if len(parts) > 1 else args.model, "cpu", scale)
    STORE.parent.mkdir(exist_ok=True)
    label_snapshots(cells(), "gpaw", STORE)
    with SnapshotStore.open(STORE) as store:
        labelled = store.read_atoms(keys.DONE)
    predicted = predict(committee, labelled, device="cpu")
    rows = []
    for i, atoms in enumerate(labelled):
        row = {"name": atoms.info["name"]}
        for p in PROPERTIES:
            row[p] = {
                "gpaw": float(atoms.info[p]),
                "model": float(predicted[p][i]),
                "model_std": float(predicted[p + "_std"][i]),
            }
        rows.append(row)
        print(
            row["name"],
            {
                p: (round(row[p]["gpaw"], 4), round(row[p]["model"], 4))
                for p in PROPERTIES
            },
        )
    (HERE / args.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
