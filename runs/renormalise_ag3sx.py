"""Renormalise the shipped harmonic force constants of Ag3SBr/Ag3SI with GFN2-xTB.

Resumable: every iteration is checkpointed under runs/<material>_<T>K/.

    python runs/renormalise_ag3sx.py Ag3SBr 300
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ase_phonongnn.data import DATA_DIR, force_constants_path
from ase_phonongnn.errors import ConvergenceError
from ase_phonongnn.label import GFN2xTB
from ase_phonongnn.sample.force_constants import save_phonopy
from ase_phonongnn.sample.renormalise import RenormalisationConfig, renormalise

material, temperature = sys.argv[1], float(sys.argv[2])
workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
config = RenormalisationConfig(
    temperature=temperature, n_snapshots=20, max_iterations=20, mixing=0.5,
    tolerance_thz=0.15, imaginary="floor:1.0", seed=0,
)
checkpoint = Path(__file__).parent / f"{material}_{round(temperature)}K"
with ProcessPoolExecutor(workers) as executor:
    try:
        result = renormalise(force_constants_path(material), GFN2xTB, config, executor,
                             checkpoint)
    except ConvergenceError as err:
        result = err.result
        print(err)
stem = f"{material}_{round(temperature)}K"
save_phonopy(result.phonon, DATA_DIR / f"{stem}_params.yaml")
(DATA_DIR / f"{stem}_history.json").write_text(json.dumps({
    "config": config.to_dict(), "calculator": "gfn2-xtb", "converged": result.converged,
    "start": f"{material}_harmonic_params.yaml", "history": result.history}))
print("converged:", result.converged)
