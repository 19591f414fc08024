"""Check whether a label from a later SCF rung lies on its neighbours' solution.

For a snapshot of a store whose GFN2-xTB SCF converged only on a damped rung
of the retry ladder, label the structures with its displacements (from the
undisplaced supercell) scaled by λ, and, at each λ, with every rung of the
ladder on its own. A label on the same solution as its neighbours changes
smoothly with λ; where the damped rungs converge to what the default rung
gives, the damping only helps the mixer, and a jump elsewhere is another
solution. Prints one JSON line per (λ, rung): σh (GPa), band gap (eV),
energy per atom (eV), or "failed".

    python research/scf_branch_check.py [STORE] [HASH-PREFIX] [λ ...] [--rungs R ...]

HASH-PREFIX picks any labelled snapshot (an outlier labelled on the default
rung too). Defaults: the shipped phonon-Ag3SBr store, its first retried
snapshot, λ = 0.90 0.95 0.98 1.00 1.02 and every rung (about 15 minutes on
one core); ``--rungs 0`` tries the default rung only (a third of the time),
enough for a snapshot that converged on it.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from ase.units import GPa

import ase_phonongnn.label.xtb as xtb
from ase_phonongnn import keys
from ase_phonongnn.data import DATA_DIR
from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.train import load_structures, retried_scf

parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
parser.add_argument("store", nargs="?", default="phonon-Ag3SBr")
parser.add_argument("hash_prefix", nargs="?", metavar="HASH-PREFIX")
parser.add_argument(
    "scales", nargs="*", type=float, default=[0.90, 0.95, 0.98, 1.00, 1.02]
)
parser.add_argument("--rungs", nargs="+", type=int, metavar="R")
args = parser.parse_args()
rungs = args.rungs
structures = load_structures(args.store)
if args.hash_prefix:  # any snapshot, by content hash
    structures = [
        a for a in structures if a.info[keys.CONTENT_HASH].startswith(args.hash_prefix)
    ]
else:
    structures = [a for a in structures if retried_scf(a)]
if not structures:
    parser.error(f"no such labelled snapshot in {args.store}")
scales = args.scales
snapshot = structures[0]
digest = snapshot.info[keys.FORCE_CONSTANTS_DIGEST]
samplers = map(PhononSampler.from_file, DATA_DIR.glob("Ag3SBr_*_params.yaml.xz"))
ideal = next(s.supercell for s in samplers if s.force_constants_digest == digest)
fractional = np.linalg.solve(ideal.cell.T, (snapshot.positions - ideal.positions).T).T
u = (fractional - np.round(fractional)) @ ideal.cell.array
ladder = xtb.RETRY_LADDER
print(
    json.dumps(
        {
            "hash": snapshot.info[keys.CONTENT_HASH][:12],
            "temperature": snapshot.info.get(keys.TEMPERATURE),
            "label": {
                "hydrostatic_stress": snapshot.info[keys.HYDROSTATIC_STRESS],
                "band_gap": snapshot.info[keys.BAND_GAP],
                "scf_settings": snapshot.info[keys.LABEL_PROVENANCE]["scf_settings"],
            },
        }
    ),
    flush=True,
)
for scale in scales:
    for rung, settings in enumerate(ladder):
        if rungs is not None and rung not in rungs:
            continue
        xtb.RETRY_LADDER = (settings,)  # this rung alone
        atoms = ideal.copy()
        atoms.positions = ideal.positions + scale * u
        atoms.calc = xtb.GFN2xTB()
        try:
            stress = atoms.get_stress(voigt=True)
            result = {
                "hydrostatic_stress": float(stress[:3].mean() / GPa),
                "band_gap": float(atoms.calc.results[keys.BAND_GAP]),
                "energy_per_atom": atoms.get_potential_energy() / len(atoms),
            }
        except Exception:  # an SCF failure is a result here
            result = "failed"
        print(json.dumps({"scale": scale, "rung": rung, "result": result}), flush=True)
