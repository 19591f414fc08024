"""Renormalise the shipped harmonic force constants of Ag3SBr/Ag3SI with GFN2-xTB.

Three stages, each resumable (checkpoints under runs/<material>_<T>K_<stage>/):

1. ``floor:1.0``: imaginary modes sampled as 1 THz modes (moderate amplitudes
   while the spectrum is far from self-consistent; the SCF converges on them);
2. ``floor:0.5`` from the result of stage 1: imaginary modes sampled with |ω|,
   so that the soft modes reach the anharmonic walls that stabilise them;
3. the same policy with 40 snapshots per iteration and a fit that pools the
   last three iterations, to bring the sampling noise below the tolerance.

    python runs/renormalise_ag3sx.py Ag3SBr 300 [WORKERS]
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
from ase_phonongnn.sample.plots import plot_dispersions
from ase_phonongnn.sample.renormalise import RenormalisationConfig, renormalise

material, temperature = sys.argv[1], float(sys.argv[2])
workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
stem = f"{material}_{round(temperature)}K"
runs = Path(__file__).parent
stages = [
    ("stage1", "floor:1.0", 20, 1, 4, force_constants_path(material)),
    (
        "stage2",
        "floor:0.5",
        20,
        1,
        8,
        runs / f"{stem}_stage1" / "iteration_003_params.yaml",
    ),
    # 20 snapshots per iteration left ~1 THz of fit noise on single soft
    # modes (stage 2 oscillated between 6 and 18 unstable modes): twice as
    # many, and the fit pools the data of the last three iterations.
    (
        "stage3",
        "floor:0.5",
        40,
        3,
        4,
        runs / f"{stem}_stage2" / "iteration_007_params.yaml",
    ),
]
history = {}
with ProcessPoolExecutor(workers) as executor:
    for name, policy, n_snapshots, pool, max_iterations, start in stages:
        config = RenormalisationConfig(
            temperature=temperature,
            n_snapshots=n_snapshots,
            max_iterations=max_iterations,
            mixing=0.5,
            tolerance_thz=0.15,
            imaginary=policy,
            seed=100 * len(history),
            pool=pool,
        )
        try:
            checkpoint = runs / f"{stem}_{name}"
            result = renormalise(start, GFN2xTB, config, executor, checkpoint)
        except ConvergenceError as err:
            result = err.result
            print(err)
        history[name] = {
            "config": config.to_dict(),
            "start": str(start.name),
            "converged": result.converged,
            "history": result.history,
        }
save_phonopy(result.phonon, DATA_DIR / f"{stem}_params.yaml")
(DATA_DIR / f"{stem}_history.json").write_text(
    json.dumps(
        {
            "calculator": "gfn2-xtb",
            "start": f"{material}_harmonic_params.yaml",
            "stages": history,
            "converged": result.converged,
        }
    )
)
figures = runs.parent / "docs" / "figures"
figures.mkdir(parents=True, exist_ok=True)
plot_dispersions(
    {
        "harmonic": force_constants_path(material),
        f"{round(temperature)} K": result.phonon,
    },
    figures / f"{stem}_dispersions.png",
    title=f"{material}, GFN2-xTB: harmonic and at {round(temperature)} K",
)
print("converged:", result.converged)
