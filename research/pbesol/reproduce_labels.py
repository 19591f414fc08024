"""Stored PBEsol labels against independent GPAW runs from their recorded parameters.

    python research/pbesol/reproduce_labels.py [N_PER_STORE] [STORE ...]

For the first N (default 1) done snapshots of each store of datasets/pbesol/
(or of the named stores, e.g. ``phonon-Ag3SI``),
runs ``gpaw.GPAW(**label_provenance["parameters"])`` on the stored structure
(the shipped PAW datasets on GPAW's setup path; forces asked first) and
compares energy per atom, forces, band gap and VBM (GPAW's own
``get_homo_lumo``) with the stored labels; σh is left out (two more SCFs).
One JSON line per snapshot is appended to reproduce_labels.jsonl.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import gpaw
import numpy as np
from ase import Atoms

from ase_phonongnn import keys
from ase_phonongnn.label.gpaw import paw_dataset_directory
from ase_phonongnn.store import SnapshotStore

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("reproduce_labels.jsonl")


def main(n_per_store: int, names: list[str]) -> None:
    """Reproduce the first labels of the (named) stores not yet in the output."""
    gpaw.setup_paths.insert(0, paw_dataset_directory())
    done = set()
    if OUT.exists():
        done = {
            json.loads(line)["content_hash"] for line in OUT.read_text().splitlines()
        }
    for path in sorted((ROOT / "datasets" / "pbesol").glob("*.h5")):
        if names and path.stem not in names:
            continue
        with SnapshotStore.open(path) as store:
            labelled = store.read_atoms(keys.DONE)[:n_per_store]
        for atoms in labelled:
            if atoms.info[keys.CONTENT_HASH] in done:
                continue
            start = time.process_time()
            direct = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
            parameters = atoms.info[keys.LABEL_PROVENANCE]["parameters"]
            direct.calc = gpaw.GPAW(**parameters, txt=None)
            energy = direct.get_potential_energy() / len(direct)
            forces = direct.get_forces()
            vbm, cbm = direct.calc.get_homo_lumo()
            record = {
                "store": path.name,
                "content_hash": atoms.info[keys.CONTENT_HASH],
                "parameters": parameters,
                "d_energy_per_atom": energy - atoms.info[keys.ENERGY_PER_ATOM],
                "max_d_force": float(np.abs(forces - atoms.arrays[keys.FORCES]).max()),
                "d_band_gap": (cbm - vbm) - atoms.info[keys.BAND_GAP],
                "d_vbm": vbm - atoms.info[keys.VBM],
                "cpu_s": round(time.process_time() - start, 1),
            }
            with OUT.open("a") as stream:
                stream.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1, sys.argv[2:])
